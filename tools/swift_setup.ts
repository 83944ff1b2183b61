/**
 * The files a loopback Swift runs from: rings with one device, a
 * configuration per server, the proxy's S3 pipeline, and for TLS a
 * certificate under a throw-away CA.
 *
 * @module
 */

import { join } from "node:path";

/** The python3 that has Debian's swift package (not a pyenv one). */
export const PYTHON = "/usr/bin/python3";

/** Builds the three rings with one device each, on the given ports. */
const RING_PY = `
import sys
from swift.common.ring import RingBuilder
swift_dir = sys.argv[1]
for kind, port in (("account", sys.argv[2]), ("container", sys.argv[3]), ("object", sys.argv[4])):
    builder = RingBuilder(6, 1, 0)
    builder.add_dev({"id": 0, "region": 1, "zone": 1, "ip": "127.0.0.1", "port": int(port),
                     "device": "d1", "weight": 100, "meta": ""})
    builder.rebalance()
    builder.get_ring().save(f"{swift_dir}/{kind}.ring.gz")
`;

async function run(command: string, args: string[]): Promise<void> {
  const out = await new Deno.Command(command, { args, stdout: "piped", stderr: "piped" }).output();
  if (!out.success) {
    throw new Error(`${command} ${args[0]} failed: ${new TextDecoder().decode(out.stderr).trim()}`);
  }
}

/** The configuration of one backend server. */
function serverConf(dir: string, port: number, app: string): string {
  return `[DEFAULT]
bind_ip = 127.0.0.1
bind_port = ${port}
workers = 0
devices = ${join(dir, "devices")}
mount_check = false
swift_dir = ${dir}
log_level = WARNING

[pipeline:main]
pipeline = ${app}-server

[app:${app}-server]
use = egg:swift#${app}
${app === "object" ? "\n[object-updater]\ninterval = 1\n" : ""}`;
}

/** The proxy's configuration: S3 API and tempauth in the pipeline, memcached for tokens. */
function proxyConf(dir: string, port: number, memcached: number, tls: boolean): string {
  const cert = tls
    ? `cert_file = ${join(dir, "store.pem")}\nkey_file = ${join(dir, "store.key")}\n`
    : "";
  return `[DEFAULT]
bind_ip = 127.0.0.1
bind_port = ${port}
workers = 0
swift_dir = ${dir}
log_level = WARNING
${cert}
[pipeline:main]
pipeline = catch_errors gatekeeper healthcheck proxy-logging cache listing_formats s3api tempauth copy slo dlo proxy-logging proxy-server

[app:proxy-server]
use = egg:swift#proxy
account_autocreate = true

[filter:s3api]
use = egg:swift#s3api
location = us-east-1

[filter:tempauth]
use = egg:swift#tempauth
user_test_tester = testing .admin

[filter:cache]
use = egg:swift#memcache
memcache_servers = 127.0.0.1:${memcached}

[filter:catch_errors]
use = egg:swift#catch_errors
[filter:gatekeeper]
use = egg:swift#gatekeeper
[filter:healthcheck]
use = egg:swift#healthcheck
[filter:proxy-logging]
use = egg:swift#proxy_logging
[filter:listing_formats]
use = egg:swift#listing_formats
[filter:copy]
use = egg:swift#copy
[filter:slo]
use = egg:swift#slo
[filter:dlo]
use = egg:swift#dlo
`;
}

/** A certificate for 127.0.0.1 under a throw-away CA, for the store's TLS. */
async function makeCertificate(dir: string): Promise<string> {
  const ca = join(dir, "ca.pem");
  const key = ["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes"];
  await run("openssl", [
    "req",
    "-x509",
    ...key,
    "-keyout",
    join(dir, "ca.key"),
    "-out",
    ca,
    "-days",
    "2",
    "-subj",
    "/CN=swift test CA",
  ]);
  await run("openssl", [
    "req",
    ...key,
    "-keyout",
    join(dir, "store.key"),
    "-out",
    join(dir, "store.csr"),
    "-subj",
    "/CN=127.0.0.1",
  ]);
  await Deno.writeTextFile(
    join(dir, "store.ext"),
    "basicConstraints=critical,CA:FALSE\nsubjectAltName=IP:127.0.0.1,DNS:localhost\n",
  );
  await run("openssl", [
    "x509",
    "-req",
    "-in",
    join(dir, "store.csr"),
    "-CA",
    ca,
    "-CAkey",
    join(dir, "ca.key"),
    "-CAcreateserial",
    "-out",
    join(dir, "store.pem"),
    "-days",
    "2",
    "-extfile",
    join(dir, "store.ext"),
  ]);
  return ca;
}

/** Writes the configuration and the rings into `dir`; returns the CA file when serving TLS. */
export async function configure(
  dir: string,
  ports: Record<"account" | "container" | "object" | "proxy" | "memcached", number>,
  options: { tls?: boolean },
): Promise<string | null> {
  const { account, container, object, proxy, memcached } = ports;
  await Deno.mkdir(join(dir, "devices", "d1"), { recursive: true });
  await Deno.writeTextFile(
    join(dir, "swift.conf"),
    "[swift-hash]\nswift_hash_path_suffix = restic-rest\nswift_hash_path_prefix = restic-rest\n\n" +
      "[storage-policy:0]\nname = gold\ndefault = yes\n",
  );
  await run(PYTHON, ["-c", RING_PY, dir, String(account), String(container), String(object)]);
  for (
    const [name, port] of [["account", account], ["container", container], [
      "object",
      object,
    ]] as const
  ) {
    await Deno.writeTextFile(join(dir, `${name}-server.conf`), serverConf(dir, port, name));
  }
  const caFile = options.tls ? await makeCertificate(dir) : null;
  await Deno.writeTextFile(
    join(dir, "proxy-server.conf"),
    proxyConf(dir, proxy, memcached, caFile !== null),
  );
  return caFile;
}
