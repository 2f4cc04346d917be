// Values only the caller of a request can fill in: its tenant's ids, its tenant, a case's current ETag. The
// request is drawn without knowing who sends it; they are resolved when it is sent.

import fc from 'fast-check';

/** What a caller owns, resolved when the request is sent (the caller is drawn separately). */
export type OwnKind = 'case' | 'entity' | 'user' | 'key' | 'tenant' | 'etag' | 'export' | 'webhook';

/** A value only the caller can fill in: one of its tenant's ids, its tenant, the current ETag of a case. */
export class Own {
  readonly kind: OwnKind;
  /** Which one of the caller's (modulo how many it has). */
  readonly pick: number;
  constructor(kind: OwnKind, pick: number) {
    this.kind = kind;
    this.pick = pick;
  }
  [fc.toStringMethod](): string {
    return `own(${this.kind}#${this.pick})`;
  }
}

/** One of the caller's own `kind`. */
export function own(kind: OwnKind): fc.Arbitrary<Own> {
  return fc.nat({ max: 1_000 }).map((pick) => new Own(kind, pick));
}
