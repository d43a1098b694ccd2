import express from 'express';
import type { Db } from '../db/db.js';
import { migrationsCurrent } from '../db/migrate.js';

// /healthz: the process answers. /readyz: the database answers and its schema is current.
export function createHealthRouter(db: Db): express.Router {
  const router = express.Router();
  router.get('/healthz', (_req, res) => {
    res.set('cache-control', 'no-store').json({ status: 'ok' });
  });
  router.get('/readyz', async (_req, res) => {
    res.set('cache-control', 'no-store');
    const timeout = new Promise<false>((resolve) => setTimeout(resolve, 2000, false).unref());
    const ready = await Promise.race([migrationsCurrent(db), timeout]).catch(() => false);
    res.status(ready ? 200 : 503).json({ status: ready ? 'ready' : 'not ready' });
  });
  return router;
}
