// Problems shared by the resource routes: not found in this tenant, and references that leave it.

import type { HeadroomError } from '@headroom/core/errors';
import { casebookErrors } from '../errors.ts';

/** 404 for a resource missing from the caller's tenant; another tenant's id looks exactly the same. */
export function notFound(resource: string, id: number): HeadroomError {
  return casebookErrors.create('HR_NOT_FOUND', `${resource} ${id} not found`);
}

const referenceFields: Record<string, string> = {
  cases_tenant_id_owner_id_fkey: 'body.owner_id',
  case_entities_tenant_id_entity_id_fkey: 'body.entity_id',
};

/**
 * Turns a foreign-key violation (an id that does not exist in the caller's tenant) into a 422 naming the
 * field; rethrows anything else.
 */
export function rethrowForeignKey(error: unknown): never {
  const pgError = error as { code?: string; constraint?: string };
  const field =
    pgError.code === '23503' && pgError.constraint ? referenceFields[pgError.constraint] : undefined;
  if (field) {
    throw casebookErrors.create('HR_INVALID_REFERENCE', `${field} does not name a record of your tenant`, {
      context: { field },
      cause: error,
    });
  }
  throw error;
}
