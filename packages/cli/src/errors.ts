// Codes of the headroom CLI.

export const cliErrorCodes = {
  HR_SCENARIO_INVALID: 'HR_SCENARIO_INVALID',
} as const;
