import os from 'node:os';
import argon2 from 'argon2';
import { percentile } from './load.mjs';
import { signIn } from './flows.mjs';

// Interactive sign-ins per second against what argon2 alone allows on this machine.

/**
 * Milliseconds for one argon2id verify with Gatehouse's parameters (median of `samples`, one at a
 * time). The ceiling is then cores ÷ that: every core doing nothing but verifying passwords.
 */
export async function argon2Ceiling(params, samples = 20) {
  const hash = await argon2.hash('a long enough bench password', params);
  const times = [];
  for (let i = 0; i < samples + 2; i++) {
    const start = performance.now();
    await argon2.verify(hash, 'a long enough bench password');
    if (i >= 2) times.push(performance.now() - start); // the first two warm the thread pool
  }
  times.sort((a, b) => a - b);
  const verifyMs = percentile(times, 50);
  const cores = os.availableParallelism();
  return { verifyMs, cores, perSecond: cores / (verifyMs / 1000) };
}

/**
 * `users.length` scripted users, each signing in over and over for `duration` seconds (after a
 * discarded warm-up): authorize → login page → POST login → redirects → code → token.
 */
export async function signInLoad(url, { users, warmup, duration, window }) {
  const run = async (seconds) => {
    const end = performance.now() + seconds * 1000;
    const latencies = [];
    let ok = 0;
    let errors = 0;
    let firstError;
    const started = performance.now();
    await Promise.all(
      users.map(async (user) => {
        while (performance.now() < end) {
          const t0 = performance.now();
          try {
            await signIn(url, { scope: 'openid profile email', credentials: { login: user.username, password: user.password } });
            ok++;
            latencies.push(performance.now() - t0);
          } catch (error) {
            errors++;
            firstError ??= error;
          }
        }
      }),
    );
    const elapsed = (performance.now() - started) / 1000;
    latencies.sort((a, b) => a - b);
    return { rps: ok / elapsed, ok, errors, seconds: elapsed, p50: percentile(latencies, 50), p99: percentile(latencies, 99), firstError };
  };
  const warm = warmup > 0 ? await run(warmup) : { ok: 0, errors: 0 };
  const finish = window();
  const result = await run(duration);
  // Every attempt, warm-up included: what the statements counted around the whole load are divided by.
  return { ...result, ...finish(), attempts: warm.ok + warm.errors + result.ok + result.errors };
}
