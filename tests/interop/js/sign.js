// Sign one file against a sceau instance with sigstore-js, write the bundle as JSON.
//
// usage: node sign.js REQUEST_JSON
//   {"how": "sign" | "attest" | "builder",        // sigstore.sign(), sigstore.attest(), or
//                                                  // @sigstore/sign bundleBuilderFromSigningConfig
//    "url": "http://127.0.0.1:PORT",               // instance base URL (sign/attest)
//    "signingConfig": "PATH",                      // signing_config.v0.2.json (builder)
//    "rekorVersion": 1 | 2,                        // builder: keep only Rekor logs of this version
//    "bundleType": "messageSignature" | "dsseEnvelope",   // builder
//    "payloadType": "application/vnd.in-toto+json",       // attest / dsseEnvelope
//    "token": "JWT", "artifact": "PATH", "out": "PATH"}
"use strict";

const fs = require("node:fs");
const sigstore = require("sigstore");
const { bundleBuilderFromSigningConfig } = require("@sigstore/sign");
const { bundleToJSON } = require("@sigstore/bundle");
const { SigningConfig } = require("@sigstore/protobuf-specs");

const TIMEOUT_MS = 20000;

async function viaApi(req, data) {
  // The top-level API: Fulcio proof-of-possession request, Rekor v1, JSON TSA request.
  const options = {
    fulcioURL: req.url,
    rekorURL: req.url,
    tsaServerURL: req.url,
    identityToken: req.token,
    timeout: TIMEOUT_MS,
    retry: 0,
  };
  if (req.how === "attest") {
    return sigstore.attest(data, req.payloadType, options);
  }
  return sigstore.sign(data, options);
}

async function viaSigningConfig(req, data) {
  // The SigningConfig path: the client picks CA, Rekor (v1 or v2) and TSA from the
  // instance's signing config. Keeping one Rekor version forces that log.
  const json = JSON.parse(fs.readFileSync(req.signingConfig, "utf8"));
  json.rekorTlogUrls = json.rekorTlogUrls.filter(
    (svc) => svc.majorApiVersion === req.rekorVersion,
  );
  if (json.rekorTlogUrls.length === 0) {
    throw new Error(`signing config has no Rekor v${req.rekorVersion} log`);
  }
  const builder = bundleBuilderFromSigningConfig({
    signingConfig: SigningConfig.fromJSON(json),
    identityProvider: { getToken: async () => req.token },
    bundleType: req.bundleType,
    fetchOptions: { timeout: TIMEOUT_MS, retry: 0 },
  });
  const artifact = { data };
  if (req.bundleType === "dsseEnvelope") {
    artifact.type = req.payloadType;
  }
  return bundleToJSON(await builder.create(artifact));
}

async function main() {
  const req = JSON.parse(process.argv[2]);
  const data = fs.readFileSync(req.artifact);
  const bundle = req.how === "builder" ? await viaSigningConfig(req, data) : await viaApi(req, data);
  fs.writeFileSync(req.out, JSON.stringify(bundle, null, 2));
}

main().catch((err) => {
  const cause = err && err.cause ? `\ncaused by: ${err.cause.stack || err.cause}` : "";
  console.error(`${(err && err.stack) || err}${cause}`);
  process.exit(1);
});
