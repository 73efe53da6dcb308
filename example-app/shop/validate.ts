// Input checks for the shop's forms and JSON API, with messages a customer can act on.
import { MAX_QTY } from './cart.js';

export class InputError extends Error {
  constructor(
    readonly code: string,
    message: string,
  ) {
    super(message);
  }
}

/** A product id from a form, URL or JSON body: digits only. */
export function productIdOf(value: unknown): string {
  const id = typeof value === 'number' ? String(value) : value;
  if (typeof id !== 'string' || !/^\d{1,6}$/.test(id)) {
    throw new InputError('invalid_product', 'That is not a product id.');
  }
  return id;
}

/** A quantity: a whole number from `min` to MAX_QTY (strings from forms are accepted). */
export function quantityOf(value: unknown, min = 1): number {
  const qty = typeof value === 'string' && /^\s*-?\d+\s*$/.test(value) ? Number(value) : value;
  if (typeof qty !== 'number' || !Number.isInteger(qty) || qty < min || qty > MAX_QTY) {
    throw new InputError('invalid_quantity', `Quantity must be a whole number from ${min} to ${MAX_QTY}.`);
  }
  return qty;
}
