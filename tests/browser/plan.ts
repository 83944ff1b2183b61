/**
 * What the browser driver is asked to do and what it reports: plain types,
 * shared by the driver and the tests that run it.
 *
 * @module
 */

/** One visit: a URL as a user, at a width, in light or dark mode. */
export interface Visit {
  url: string;
  user: string;
  password: string;
  width: number;
  /** Write a full-page screenshot (PNG) here. */
  screenshot?: string;
}

/** What the browser saw on one visit. */
export interface Seen {
  status: number | null;
  wwwAuthenticate: string | null;
  cards: {
    path: string;
    state: string;
    snapshots: string;
    newest: string;
    limit: string;
  }[];
  html: string;
  /** How much wider than the window the page is (0 or less: it fits). */
  overflow: number;
  /** Text that wrapped where it must not, and timeline labels closer than 6 px. */
  layout: { broken: string[]; overlapping: number };
  /** The body's background in light and in dark mode. */
  background: { light: string; dark: string };
  requests: string[];
  errors: string[];
}
