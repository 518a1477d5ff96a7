// Set tvs's bench_face figures against face-api's harness, run in the same
// script on the same photos: per stage (sum over the six photos of the
// per-photo medians) and per network forward pass. Ratios > 1 mean tvs is
// faster.
//   node bench/ratio.mjs OURS.json REF.jsonl REFNETS.txt
import fs from 'node:fs';

const [oursPath, refPath, netsPath] = process.argv.slice(2);
const ours = JSON.parse(fs.readFileSync(oursPath, 'utf8'));
const ref = fs.readFileSync(refPath, 'utf8').split('\n').filter((l) => l.includes('"path"')).map((l) => JSON.parse(l));
const base = (p) => p.split('/').pop();
const sum = { ours: { decode: 0, detect: 0, landmarks: 0, recognition: 0 }, ref: { decode: 0, detect: 0, landmarks: 0, recognition: 0 } };
for (const r of ref) {
  const o = ours.images.find((x) => base(x.path) === base(r.path));
  if (!o) continue;
  const w = r.warm_ms || r.timings_ms;
  sum.ref.decode += r.timings_ms.decode;
  sum.ref.detect += w.detect;
  sum.ref.landmarks += w.landmarks;
  sum.ref.recognition += w.descriptors;
  for (const k of Object.keys(sum.ours)) sum.ours[k] += o[k];
}
const f = (v) => v.toFixed(1);
console.log('\nwhole pipeline on the six demo photos, one thread (ms, summed over photos):');
console.log('| stage | face-api wasm | tvs | speed-up |\n|---|---|---|---|');
let to = 0; let tr = 0;
for (const k of Object.keys(sum.ours)) {
  to += sum.ours[k]; tr += sum.ref[k];
  console.log(`| ${k} | ${f(sum.ref[k])} | ${f(sum.ours[k])} | ${(sum.ref[k] / sum.ours[k]).toFixed(2)}x |`);
}
console.log(`| **total** | ${f(tr)} | ${f(to)} | **${(tr / to).toFixed(2)}x** |`);
if (ours.images_default) {
  const td = ours.images_default.reduce((a, x) => a + x.decode + x.detect + x.landmarks + x.recognition, 0);
  console.log(`| total, tvs default (int8 SSD, mirror-averaged descriptors) | ${f(tr)} | ${f(td)} | **${(tr / td).toFixed(2)}x** |`);
}
const rows = fs.readFileSync(netsPath, 'utf8').split('\n').filter((l) => /^\| (face_|ssd|tiny)/.test(l));
const names = { face_recognition: 'recognition', face_landmark_68: 'landmarks', ssd_mobilenetv1: 'ssd_mobilenetv1', tiny_face_detector: 'tiny_face_detector' };
console.log('\nnetwork forward passes, one thread (median ms):');
console.log('| network | face-api wasm | tvs | speed-up | tvs % of FMA peak |\n|---|---|---|---|---|');
for (const row of rows) {
  const c = row.split('|').map((s) => s.trim());
  const n = ours.nets.find((x) => x.name === names[c[1]]);
  if (!n) continue;
  const refMs = Number(c[5]);
  console.log(`| ${n.name} | ${refMs.toFixed(2)} | ${n.ms.toFixed(2)} | ${(refMs / n.ms).toFixed(2)}x | ${(100 * n.peak_frac).toFixed(0)}% |`);
}
