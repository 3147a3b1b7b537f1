// Attach a Sigstore bundle to an image with @sigstore/oci, as actions/attest does:
//   node attach.js IMAGE_NAME IMAGE_DIGEST BUNDLE_FILE PREDICATE_TYPE
// Prints the referrer's descriptor as JSON.
'use strict';
const fs = require('fs');
const { attachArtifactToImage } = require('@sigstore/oci');

async function main() {
  const [imageName, imageDigest, bundlePath, predicateType] = process.argv.slice(2);
  const descriptor = await attachArtifactToImage({
    imageName,
    imageDigest,
    artifact: fs.readFileSync(bundlePath),
    mediaType: 'application/vnd.dev.sigstore.bundle.v0.3+json',
    annotations: {
      'dev.sigstore.bundle.content': 'dsse-envelope',
      'dev.sigstore.bundle.predicateType': predicateType,
    },
    credentials: { username: process.env.REGISTRY_USER, password: process.env.REGISTRY_PASSWORD },
  });
  process.stdout.write(JSON.stringify(descriptor) + '\n');
}

main().catch((e) => {
  const cause = e.cause ? `: ${e.cause.message || e.cause}` : "";
  process.stderr.write(`attach failed: ${e.message}${cause}\n`);
  process.exit(1);
});
