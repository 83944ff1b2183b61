/**
 * Certificates for TLS tests, made with openssl.
 *
 * @module
 */

/**
 * A certificate for 127.0.0.1 and localhost where `--tls` looks by default
 * (DIR/public_key and DIR/private_key), signed by a throw-away CA (DIR/ca.pem)
 * that clients are told to trust. A leaf under a CA suits both Go's and
 * rustls' checks; rustls refuses a self-signed CA certificate as a leaf.
 */
export async function makeCertificate(
  dir: string,
): Promise<{ ca: string; cert: string; key: string }> {
  const ca = `${dir}/ca.pem`;
  const cert = `${dir}/public_key`;
  const key = `${dir}/private_key`;
  const openssl = async (args: string[]): Promise<void> => {
    const result = await new Deno.Command("openssl", { args, stdin: "null" }).output();
    if (result.code !== 0) throw new Error(new TextDecoder().decode(result.stderr));
  };
  const ecKey = ["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes"];
  await openssl([
    "req",
    "-x509",
    ...ecKey,
    "-keyout",
    `${dir}/ca.key`,
    "-out",
    ca,
    "-days",
    "2",
    "-subj",
    "/CN=restic-rest test CA",
  ]);
  await openssl([
    "req",
    ...ecKey,
    "-keyout",
    key,
    "-out",
    `${dir}/leaf.csr`,
    "-subj",
    "/CN=localhost",
  ]);
  await Deno.writeTextFile(
    `${dir}/leaf.ext`,
    "basicConstraints=critical,CA:FALSE\nsubjectAltName=IP:127.0.0.1,DNS:localhost\n",
  );
  await openssl([
    "x509",
    "-req",
    "-in",
    `${dir}/leaf.csr`,
    "-CA",
    ca,
    "-CAkey",
    `${dir}/ca.key`,
    "-CAcreateserial",
    "-out",
    cert,
    "-days",
    "2",
    "-extfile",
    `${dir}/leaf.ext`,
  ]);
  return { ca, cert, key };
}
