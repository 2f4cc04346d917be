// Free TCP ports on loopback, for servers started by tests and by the dev setup.

import { createServer } from 'node:net';

/** Asks the kernel for a free port on 127.0.0.1 and releases it at once. */
export async function freePort(): Promise<number> {
  return await new Promise((resolve, reject) => {
    const server = createServer();
    server.unref();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const address = server.address();
      server.close(() => {
        if (address && typeof address === 'object') resolve(address.port);
        else reject(new Error('could not read the port of a listening socket'));
      });
    });
  });
}
