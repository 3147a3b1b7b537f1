// sceau explorer: verify a log entry in the browser, with nothing but WebCrypto.
//
// 1. leaf hash = SHA-256(0x00 || leaf) must equal the entry's UUID (RFC 6962 §2.1);
// 2. the inclusion proof is walked to a root (RFC 9162 §2.1.3.2);
// 3. the checkpoint (C2SP signed note) must carry that root and tree size;
// 4. its signature must verify with a key of the instance's trusted root (ECDSA P-256 or
//    Ed25519, matched by the note's 4-byte key hint).
"use strict";
(function () {
  const section = document.getElementById("verification");
  if (!section) return;
  const status = document.getElementById("verify-status");
  const steps = document.getElementById("verify-steps");
  const enc = new TextEncoder();

  function say(text, cls) {
    status.textContent = text;
    status.className = cls;
  }
  function step(text, ok) {
    const li = document.createElement("li");
    li.textContent = text;
    li.className = ok ? "ok" : "bad";
    steps.appendChild(li);
  }
  function hex(bytes) {
    return Array.from(bytes, (b) => b.toString(16).padStart(2, "0")).join("");
  }
  function unhex(s) {
    if (!/^([0-9a-f]{2})*$/i.test(s)) throw new Error("not hex: " + s.slice(0, 20));
    const out = new Uint8Array(s.length / 2);
    for (let i = 0; i < out.length; i++) out[i] = parseInt(s.substr(2 * i, 2), 16);
    return out;
  }
  function unb64(s) {
    const bin = atob(s);
    const out = new Uint8Array(bin.length);
    for (let i = 0; i < bin.length; i++) out[i] = bin.charCodeAt(i);
    return out;
  }
  function concat(parts) {
    const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
    let at = 0;
    for (const p of parts) {
      out.set(p, at);
      at += p.length;
    }
    return out;
  }
  async function sha256(...parts) {
    return new Uint8Array(await crypto.subtle.digest("SHA-256", concat(parts)));
  }
  function equal(a, b) {
    return a.length === b.length && a.every((x, i) => x === b[i]);
  }

  // RFC 9162 §2.1.3.2: the root an inclusion proof leads to.
  async function rootFromProof(index, size, leafHash, proof) {
    if (index >= size) throw new Error("the index is not below the tree size");
    let fn = index;
    let sn = size - 1;
    let r = leafHash;
    for (const p of proof) {
      if (sn === 0) throw new Error("the proof is too long");
      if (fn % 2 === 1 || fn === sn) {
        r = await sha256(Uint8Array.of(1), p, r);
        if (fn % 2 === 0) {
          while (fn % 2 === 0 && fn !== 0) {
            fn = Math.floor(fn / 2);
            sn = Math.floor(sn / 2);
          }
        }
      } else {
        r = await sha256(Uint8Array.of(1), r, p);
      }
      fn = Math.floor(fn / 2);
      sn = Math.floor(sn / 2);
    }
    if (sn !== 0) throw new Error("the proof is too short");
    return r;
  }

  // C2SP signed note: body lines, a blank line, then "— <name> <base64(hint || sig)>".
  function parseNote(text) {
    const cut = text.indexOf("\n\n");
    if (cut < 0) throw new Error("the checkpoint has no signature block");
    const body = text.slice(0, cut + 1);
    const lines = body.split("\n");
    const sigs = [];
    for (const line of text.slice(cut + 2).split("\n")) {
      const m = /^\u2014 (\S+) (\S+)$/.exec(line);
      if (m) sigs.push({ name: m[1], raw: unb64(m[2]) });
    }
    return {
      body,
      origin: lines[0],
      size: Number(lines[1]),
      root: unb64(lines[2]),
      sigs,
    };
  }

  // ECDSA signatures in notes are DER; WebCrypto wants r || s.
  function derToRaw(der, n) {
    let at = 0;
    function tlv(tag) {
      if (der[at++] !== tag) throw new Error("bad DER signature");
      let len = der[at++];
      if (len & 0x80) {
        const k = len & 0x7f;
        len = 0;
        for (let i = 0; i < k; i++) len = (len << 8) | der[at++];
      }
      const v = der.slice(at, at + len);
      at += len;
      return v;
    }
    const seq = tlv(0x30);
    der = seq;
    at = 0;
    const parts = [tlv(0x02), tlv(0x02)].map((x) => {
      while (x.length > n && x[0] === 0) x = x.slice(1);
      const out = new Uint8Array(n);
      out.set(x, n - x.length);
      return out;
    });
    return concat(parts);
  }

  function trustKeys(root) {
    const out = [];
    for (const group of ["tlogs", "ctlogs"]) {
      for (const t of root[group] || []) {
        out.push({
          url: t.baseUrl,
          spki: unb64(t.publicKey.rawBytes),
          details: t.publicKey.keyDetails,
        });
      }
    }
    return out;
  }

  async function checkSignature(note, keys) {
    for (const sig of note.sigs) {
      const hint = sig.raw.slice(0, 4);
      const signature = sig.raw.slice(4);
      for (const k of keys) {
        if (k.details === "PKIX_ED25519") {
          const raw = k.spki.slice(-32);
          const h = await sha256(enc.encode(sig.name), Uint8Array.of(0x0a, 0x01), raw);
          if (!equal(h.slice(0, 4), hint)) continue;
          let key;
          try {
            key = await crypto.subtle.importKey("spki", k.spki, { name: "Ed25519" }, false, ["verify"]);
          } catch (e) {
            return { unsupported: "this browser's WebCrypto has no Ed25519" };
          }
          const ok = await crypto.subtle.verify({ name: "Ed25519" }, key, signature, enc.encode(note.body));
          return { ok, key: k, alg: "Ed25519", name: sig.name };
        }
        if (k.details === "PKIX_ECDSA_P256_SHA_256") {
          const h = await sha256(k.spki);
          if (!equal(h.slice(0, 4), hint)) continue;
          const key = await crypto.subtle.importKey(
            "spki", k.spki, { name: "ECDSA", namedCurve: "P-256" }, false, ["verify"]);
          const ok = await crypto.subtle.verify(
            { name: "ECDSA", hash: "SHA-256" }, key, derToRaw(signature, 32), enc.encode(note.body));
          return { ok, key: k, alg: "ECDSA P-256", name: sig.name };
        }
      }
    }
    return { ok: false, missing: true };
  }

  async function run() {
    if (!window.crypto || !crypto.subtle) {
      say("not checked: this page needs a secure context (https or localhost) for WebCrypto", "warn");
      return;
    }
    say("checking…", "busy");
    const uuid = section.dataset.uuid;
    const log = section.dataset.log;
    const leaf = unb64(section.dataset.leaf);
    const [entryResp, rootResp] = await Promise.all([
      fetch(`/api/explorer/v1/entries/${uuid}?log=${encodeURIComponent(log)}`),
      fetch("/api/explorer/v1/trusted-root"),
    ]);
    if (!entryResp.ok) throw new Error(`the proof request answered ${entryResp.status}`);
    if (!rootResp.ok) throw new Error(`the trusted root request answered ${rootResp.status}`);
    const entry = await entryResp.json();
    const trusted = await rootResp.json();

    const lh = await sha256(Uint8Array.of(0), leaf);
    if (hex(lh) !== uuid) throw new Error("the leaf hash differs from the entry's UUID");
    step(`leaf hash ${hex(lh).slice(0, 16)}… equals the UUID`, true);

    if (entry.index !== Number(section.dataset.index)) throw new Error("the proof is for another index");
    const proof = entry.hashes.map(unhex);
    const root = await rootFromProof(entry.index, entry.treeSize, lh, proof);
    const n = proof.length === 1 ? "1 hash" : `${proof.length} hashes`;
    step(`inclusion proof (${n}) leads to root ${hex(root).slice(0, 16)}…`, true);

    const note = parseNote(entry.checkpoint);
    if (note.size !== entry.treeSize) throw new Error("the checkpoint is for another tree size");
    if (!equal(note.root, root)) throw new Error("the proof does not lead to the checkpoint's root");
    step(`checkpoint "${note.origin}" of size ${note.size} has that root`, true);

    const sig = await checkSignature(note, trustKeys(trusted));
    if (sig.unsupported) {
      say(`not checked: ${sig.unsupported}`, "warn");
      return;
    }
    if (sig.missing) throw new Error("no key of the trusted root signed the checkpoint");
    if (!sig.ok) throw new Error(`the checkpoint signature (${sig.alg}) does not verify`);
    step(`checkpoint signed by ${sig.name} (${sig.alg}, trusted root key of ${sig.key.url})`, true);
    say("verified", "ok");
  }

  run().catch((e) => {
    step(e.message, false);
    say(`failed: ${e.message}`, "bad");
  });
})();
