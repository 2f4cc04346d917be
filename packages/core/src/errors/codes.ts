// Codes that any part of Headroom may raise; each module adds its own in its errors.ts.

/** Codes shared across modules; every code here is documented in docs/errors.md. */
export const commonErrorCodes = {
  HR_INTERNAL: 'HR_INTERNAL',
  HR_INVALID_OPTION: 'HR_INVALID_OPTION',
} as const;
