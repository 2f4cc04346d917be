// An OTLP/HTTP JSON trace receiver in a process of its own (the bench's process blocks while wrk runs), counting
// spans without keeping them; `GET /stats` answers the counts.

import { startOtlpReceiver } from '@headroom/dev-servers/otlp';

const receiver = await startOtlpReceiver({ keepSpans: false });
process.stdout.write(`listening on ${receiver.url}\n`);
process.on('SIGTERM', () => void receiver.close().then(() => process.exit(0)));
