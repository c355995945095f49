// Fixed data for the plots page until the API reports history (phase 2). It
// has the units of the real thing: per-minute counts over one hour (x in
// unix seconds), and provisioning durations in seconds.

const hourStart = Date.UTC(2026, 10, 28, 9, 0, 0) / 1000;

// A small deterministic generator, so every run draws the same pictures.
function generator(seed) {
  let s = seed >>> 0;
  return () => {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
    return s / 2 ** 32;
  };
}

export function operationsPerMinute() {
  const rnd = generator(7);
  const t = [];
  const started = [];
  const completed = [];
  const failed = [];
  for (let i = 0; i < 60; i++) {
    t.push(hourStart + i * 60);
    const s = Math.max(0, Math.round(9 + 5 * Math.sin(i / 8) + 4 * rnd()));
    const f = rnd() < 0.18 ? 1 + Math.floor(rnd() * 3) : 0;
    started.push(s);
    failed.push(f);
    completed.push(Math.max(0, s - f - (rnd() < 0.3 ? 1 : 0)));
  }
  return { t, started, completed, failed };
}

export function provisioningSeconds() {
  const rnd = generator(11);
  // About log-normal around 5 s (the default PROVISIONING_DELAY), with a tail.
  return Array.from({ length: 240 }, () => {
    const z = Math.sqrt(-2 * Math.log(1 - rnd())) * Math.cos(2 * Math.PI * rnd());
    return Math.round(5 * Math.exp(0.25 * z) * 100) / 100;
  });
}

export function itemsPerMinute() {
  const rnd = generator(23);
  const t = [];
  const written = [];
  for (let i = 0; i < 60; i++) {
    t.push(hourStart + i * 60);
    written.push(Math.round(1200 + 500 * Math.sin(i / 6) + 300 * rnd() + (i > 40 ? 400 : 0)));
  }
  return { t, written };
}
