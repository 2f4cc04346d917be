// Codes of the webhooks module; every code here is documented in docs/errors.md.

import { defineErrors, type ErrorCodeOf } from '../errors/index.ts';

/** What sending webhooks refuses: a destination that is not a public address, a disabled endpoint. */
export const webhookErrors = defineErrors({
  /** The URL is not one a webhook may be sent to (scheme, credentials, or a host that resolves to a forbidden address). */
  HR_WEBHOOK_URL_FORBIDDEN: { status: 422, stack: false },
  /** The endpoint is disabled (by its admin, a 410 answer, or failing too long): enable it before sending again. */
  HR_WEBHOOK_ENDPOINT_DISABLED: { status: 409, stack: false },
});

/** One of the codes in {@link webhookErrors}. */
export type WebhookErrorCode = ErrorCodeOf<typeof webhookErrors>;
