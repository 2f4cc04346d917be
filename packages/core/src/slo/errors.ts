// Codes of the slo module.

export const sloErrorCodes = {
  HR_SPEC_INVALID: 'HR_SPEC_INVALID',
} as const;
