/**
 * The test S3 server as its own process (benchmarks run it apart from the load they
 * measure): `node --import tsx test/support/s3/cli.ts [--dir DIR] [--bucket NAME]`.
 * Prints one JSON line with its address and credentials, then serves until SIGTERM.
 */
import { parseArgs } from 'node:util';
import { startS3Server } from './index.js';

const { values } = parseArgs({ options: { dir: { type: 'string' }, bucket: { type: 'string', default: 'forge' } } });
const s3 = await startS3Server({ dir: values.dir, buckets: [values.bucket!] });
process.stdout.write(
  JSON.stringify({ endpoint: s3.endpoint, port: s3.port, region: s3.region, bucket: s3.bucket, accessKeyId: s3.accessKeyId, secretAccessKey: s3.secretAccessKey }) + '\n',
);
const stop = () => void s3.close().finally(() => process.exit(0));
process.on('SIGTERM', stop);
process.on('SIGINT', stop);
