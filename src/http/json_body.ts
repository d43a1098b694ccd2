import express from 'express';

/** The body of a hosted page's script request (a WebAuthn response and its CSRF token): small JSON only. */
export const hostedJson = express.json({ limit: '32kb', strict: true });
