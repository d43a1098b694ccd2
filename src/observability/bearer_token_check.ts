import { createHash, timingSafeEqual } from 'node:crypto';

// METRICS_TOKEN: compared in constant time. Hashing both sides first gives equal lengths, so
// neither the comparison nor a length check tells a guesser how close it came.
const digest = (value: string) => createHash('sha256').update(value, 'utf8').digest();

export function bearerTokenCheck(token: string): (authorization: string | undefined) => boolean {
  const expected = digest(token);
  return (authorization) => {
    const match = /^Bearer +(\S+) *$/i.exec(authorization ?? '');
    return timingSafeEqual(digest(match?.[1] ?? ''), expected);
  };
}
