// The bytes one cache entry occupies in Redis: a small header (format, metadata) and then the value bytes as they
// are, so a read is one plain GET and the value is a view into the reply, never copied or re-serialized.

import type { StoredEntry } from '../entry.ts';

const FORMAT = 1;
const HEADER = 5; // format byte + u32 metadata length

type Meta = [
  etag: string,
  createdAt: number,
  freshUntil: number,
  swrUntil: number,
  graceUntil: number,
  notFound: 0 | 1,
  tags: readonly string[],
  tagVersions: readonly number[],
];

/**
 * Packs an entry into the bytes stored under its key.
 *
 * @example
 * await client.set(key, encodeEntry(entry), 'PX', gcMs);
 */
export function encodeEntry(entry: StoredEntry): Buffer {
  const meta: Meta = [
    entry.etag,
    entry.createdAt,
    entry.freshUntil,
    entry.swrUntil,
    entry.graceUntil,
    entry.notFound ? 1 : 0,
    entry.tags,
    entry.tagVersions,
  ];
  const json = Buffer.from(JSON.stringify(meta));
  const out = Buffer.allocUnsafe(HEADER + json.length + entry.bytes.length);
  out[0] = FORMAT;
  out.writeUInt32BE(json.length, 1);
  json.copy(out, HEADER);
  entry.bytes.copy(out, HEADER + json.length);
  return out;
}

/**
 * Unpacks stored bytes; undefined for bytes this format does not know (another writer's key, a newer format).
 *
 * @example
 * const entry = decodeEntry(await client.getBuffer(key));
 */
export function decodeEntry(raw: Buffer | null): StoredEntry | undefined {
  if (raw === null || raw.length < HEADER || raw[0] !== FORMAT) return undefined;
  const end = HEADER + raw.readUInt32BE(1);
  if (end > raw.length) return undefined;
  const [etag, createdAt, freshUntil, swrUntil, graceUntil, notFound, tags, tagVersions] = JSON.parse(
    raw.toString('utf8', HEADER, end),
  ) as Meta;
  return {
    bytes: raw.subarray(end),
    etag,
    createdAt,
    freshUntil,
    swrUntil,
    graceUntil,
    notFound: notFound === 1,
    tags,
    tagVersions,
  };
}
