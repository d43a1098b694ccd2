import { NodeFS } from '@electric-sql/pglite/nodefs';
import type { PGlite } from '@electric-sql/pglite';

// PGlite's file system (Emscripten's NODEFS) creates each file with the mode Postgres asks of
// its in-memory file system and then chmods it to 0666, whatever the process umask; folders get
// 0777 less the umask. Masking group and other bits out of every mode it creates or sets keeps
// new files (WAL segments, relation files) 0600 and new folders 0700 while the server runs.

const OWNER_ONLY = ~0o077;

// Any of these may be missing from another PGlite version (keepPrivate checks).
interface EmscriptenNodeFs {
  node_ops?: { mknod?: (parent: unknown, name: string, mode: number, dev: number) => unknown; setattr?: (node: unknown, attr: Attr) => void };
  stream_ops?: { setattr?: (stream: unknown, attr: Attr) => void };
}

type Attr = { mode?: number };
const privateAttr = (attr: Attr): Attr => (attr.mode == null ? attr : { ...attr, mode: attr.mode & OWNER_ONLY });

function keepPrivate(nodefs: EmscriptenNodeFs | undefined): void {
  // Emscripten internals: should a PGlite upgrade move them, refuse to open rather than go on
  // writing world-readable files (test/storage/data_dir_modes.test.ts checks the modes).
  const nodeOps = nodefs?.node_ops;
  const streamOps = nodefs?.stream_ops;
  const mknod = nodeOps?.mknod;
  const setattr = nodeOps?.setattr;
  const streamSetattr = streamOps?.setattr;
  if (!nodeOps || !streamOps || typeof mknod !== 'function' || typeof setattr !== 'function' || typeof streamSetattr !== 'function') {
    throw new Error('this PGlite version hides its file system: cannot keep DATA_DIR private');
  }
  nodeOps.mknod = (parent, name, mode, dev) => mknod(parent, name, mode & OWNER_ONLY, dev);
  nodeOps.setattr = (node, attr) => setattr(node, privateAttr(attr));
  streamOps.setattr = (stream, attr) => streamSetattr(stream, privateAttr(attr));
}

export class PrivateNodeFS extends NodeFS {
  override async init(pg: PGlite, opts: Parameters<NodeFS['init']>[1]): ReturnType<NodeFS['init']> {
    const { emscriptenOpts } = await super.init(pg, opts);
    const preRun = (module: { FS?: { filesystems?: { NODEFS?: EmscriptenNodeFs } } }) => keepPrivate(module.FS?.filesystems?.NODEFS);
    // Before NodeFS's own preRun mounts the data directory.
    return { emscriptenOpts: { ...emscriptenOpts, preRun: [preRun, ...((emscriptenOpts.preRun as unknown[] | undefined) ?? [])] } as typeof emscriptenOpts };
  }
}
