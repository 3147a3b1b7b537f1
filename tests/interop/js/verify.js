// Verify one bundle with @sigstore/verify against a trusted_root.json and an identity.
//
// usage: node verify.js REQUEST_JSON
//   {"trustedRoot": "PATH", "bundle": "PATH",
//    "artifact": "PATH" | null,        // null for DSSE bundles (the envelope carries the payload)
//    "identity": "SAN", "issuer": "URL"}
// Prints {"ok": true, "identity": ..., "issuer": ..., "timestamps": [...]} and exits 0, or
// {"ok": false, "error": ...} and exits 1.
"use strict";

const fs = require("node:fs");
const { Verifier, toSignedEntity, toTrustMaterial } = require("@sigstore/verify");
const { bundleFromJSON } = require("@sigstore/bundle");
const { TrustedRoot } = require("@sigstore/protobuf-specs");

function main() {
  const req = JSON.parse(process.argv[2]);
  const root = TrustedRoot.fromJSON(JSON.parse(fs.readFileSync(req.trustedRoot, "utf8")));
  const bundle = bundleFromJSON(JSON.parse(fs.readFileSync(req.bundle, "utf8")));
  const artifact = req.artifact ? fs.readFileSync(req.artifact) : undefined;
  const entity = toSignedEntity(bundle, artifact);
  const verifier = new Verifier(toTrustMaterial(root));
  const signer = verifier.verify(entity, {
    subjectAlternativeName: req.identity,
    extensions: { issuer: req.issuer },
  });
  const result = {
    ok: true,
    identity: signer.identity && signer.identity.subjectAlternativeName,
    issuer: signer.identity && signer.identity.extensions && signer.identity.extensions.issuer,
    timestamps: entity.timestamps.map((t) => t.$case),
  };
  process.stdout.write(JSON.stringify(result));
}

try {
  main();
} catch (err) {
  process.stdout.write(JSON.stringify({ ok: false, error: `${err.code || err.name}: ${err.message}` }));
  process.exit(1);
}
