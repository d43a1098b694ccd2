import { NodeFS } from '@electric-sql/pglite/nodefs';
import type { PGlite } from '@electric-sql/pglite';

// PGlite's file system (Emscripten's NODEFS) creates each file with the mode Postgres asks of
// its in-memory file system and then chmods it to 0666, whatever the process umask; folders get
// 0777 less the umask. Masking group and other bits out of every mode it creates or sets keeps
// new files (WAL segments, relation files) 0600 and new folders 0700 while the server runs.

const OWNER_ONLY = ~0o077;

interface EmscriptenNodeFs {
  node_ops: { mknod(parent: unknown, name: string, mode: number, dev: number): unknown; setattr(node: unknown, attr: { mode?: number }): void };
  stream_ops: { setattr(stream: unknown, attr: { mode?: number }): void };
}

type Attr = { mode?: number };
const privateAttr = (attr: Attr): Attr => (attr.mode == null ? attr : { ...attr, mode: attr.mode & OWNER_ONLY });

function keepPrivate(nodefs: EmscriptenNodeFs | undefined): void {
  // Emscripten internals: should a PGlite upgrade move them, refuse to open rather than go on
  // writing world-readable files (test/storage/data_dir_modes.test.ts checks the modes).
  if (typeof nodefs?.node_ops?.mknod !== 'function' || typeof nodefs.node_ops.setattr !== 'function' || typeof nodefs.stream_ops?.setattr !== 'function') {
    throw new Error('this PGlite version hides its file system: cannot keep DATA_DIR private');
  }
  const { mknod, setattr } = nodefs.node_ops;
  const streamSetattr = nodefs.stream_ops.setattr;
  nodefs.node_ops.mknod = (parent, name, mode, dev) => mknod(parent, name, mode & OWNER_ONLY, dev);
  nodefs.node_ops.setattr = (node, attr) => setattr(node, privateAttr(attr));
  nodefs.stream_ops.setattr = (stream, attr) => streamSetattr(stream, privateAttr(attr));
}

export class PrivateNodeFS extends NodeFS {
  override async init(pg: PGlite, opts: Parameters<NodeFS['init']>[1]): ReturnType<NodeFS['init']> {
    const { emscriptenOpts } = await super.init(pg, opts);
    const preRun = (module: { FS?: { filesystems?: { NODEFS?: EmscriptenNodeFs } } }) => keepPrivate(module.FS?.filesystems?.NODEFS);
    // Before NodeFS's own preRun mounts the data directory.
    return { emscriptenOpts: { ...emscriptenOpts, preRun: [preRun, ...((emscriptenOpts.preRun as unknown[]) ?? [])] } as typeof emscriptenOpts };
  }
}
