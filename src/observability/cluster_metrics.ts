import cluster from 'node:cluster';
import { randomUUID } from 'node:crypto';
import client from 'prom-client';

// Under WEB_CONCURRENCY each worker counts its own requests, and a scrape reaches whichever
// worker the kernel hands the connection to. The worker that answers /metrics therefore asks
// the primary, which gathers every worker's registry (prom-client's AggregatorRegistry).

const ASK = 'gatehouse:metrics-request';
const ANSWER = 'gatehouse:metrics-response';

interface Message {
  type?: string;
  id?: string;
  text?: string;
  error?: string;
}

/** In the primary: answer workers' requests with the whole cluster's metrics. */
export function serveClusterMetrics(): void {
  const aggregator = new client.AggregatorRegistry();
  cluster.on('message', (worker, message: Message | null | undefined) => {
    if (message?.type !== ASK) return;
    aggregator.clusterMetrics().then(
      (text) => worker.send({ type: ANSWER, id: message.id, text }),
      (error: unknown) => worker.send({ type: ANSWER, id: message.id, error: (error as Error).message }),
    );
  });
}

/** In a worker: registers this worker's registry for aggregation, returns a fetcher. */
export function clusterMetricsFetcher(registry: client.Registry): (() => Promise<string>) | undefined {
  if (!cluster.isWorker || !process.send) return undefined;
  // Constructing one installs prom-client's listener that answers the primary's gathering.
  new client.AggregatorRegistry();
  client.AggregatorRegistry.setRegistries([registry]);
  return () =>
    new Promise<string>((resolve, reject) => {
      const id = randomUUID();
      const timeout = setTimeout(() => {
        process.off('message', onMessage);
        reject(new Error('the primary did not answer with metrics in time'));
      }, 5000);
      const onMessage = (message: Message | null | undefined) => {
        if (message?.type !== ANSWER || message.id !== id) return;
        clearTimeout(timeout);
        process.off('message', onMessage);
        if (message.error !== undefined) reject(new Error(message.error));
        else resolve(message.text ?? '');
      };
      process.on('message', onMessage);
      if (!process.send) throw new Error('no IPC channel to the primary');
      process.send({ type: ASK, id });
    });
}
