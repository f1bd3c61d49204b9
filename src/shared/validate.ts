// A small structural validator for messages that cross a process or webview boundary. Every message is
// checked on arrival; a malformed one is rejected with a message naming the field, never trusted.

export type Check<T> = (value: unknown, path: string) => T;

export class ValidationError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'ValidationError';
  }
}

function fail(path: string, expected: string, value: unknown): never {
  const got = value === null ? 'null' : Array.isArray(value) ? 'array' : typeof value;
  throw new ValidationError(`${path}: expected ${expected}, got ${got}`);
}

export const str = (opts: { maxLength?: number; minLength?: number } = {}): Check<string> => (v, path) => {
  if (typeof v !== 'string') fail(path, 'a string', v);
  if (opts.maxLength !== undefined && v.length > opts.maxLength) {
    throw new ValidationError(`${path}: string longer than ${opts.maxLength} characters`);
  }
  if (opts.minLength !== undefined && v.length < opts.minLength) {
    throw new ValidationError(opts.minLength === 1 ? `${path}: must not be empty` : `${path}: string shorter than ${opts.minLength} characters`);
  }
  return v;
};

export const int = (opts: { min?: number; max?: number } = {}): Check<number> => (v, path) => {
  if (typeof v !== 'number' || !Number.isInteger(v)) fail(path, 'an integer', v);
  if (opts.min !== undefined && v < opts.min) throw new ValidationError(`${path}: must be >= ${opts.min}`);
  if (opts.max !== undefined && v > opts.max) throw new ValidationError(`${path}: must be <= ${opts.max}`);
  return v;
};

export const num = (opts: { min?: number; max?: number } = {}): Check<number> => (v, path) => {
  if (typeof v !== 'number' || !Number.isFinite(v)) fail(path, 'a finite number', v);
  if (opts.min !== undefined && v < opts.min) throw new ValidationError(`${path}: must be >= ${opts.min}`);
  if (opts.max !== undefined && v > opts.max) throw new ValidationError(`${path}: must be <= ${opts.max}`);
  return v;
};

export const bool: Check<boolean> = (v, path) => {
  if (typeof v !== 'boolean') fail(path, 'a boolean', v);
  return v;
};

export const oneOf = <T extends string>(...values: T[]): Check<T> => (v, path) => {
  if (typeof v !== 'string' || !(values as string[]).includes(v)) fail(path, `one of ${values.join('|')}`, v);
  return v as T;
};

export const optional = <T>(check: Check<T>): Check<T | undefined> => (v, path) =>
  v === undefined ? undefined : check(v, path);

export const arrayOf = <T>(check: Check<T>, opts: { maxLength?: number } = {}): Check<T[]> => (v, path) => {
  if (!Array.isArray(v)) fail(path, 'an array', v);
  if (opts.maxLength !== undefined && v.length > opts.maxLength) {
    throw new ValidationError(`${path}: more than ${opts.maxLength} items`);
  }
  return v.map((item, i) => check(item, `${path}[${i}]`));
};

type Shape = Record<string, Check<unknown>>;
type FromShape<S extends Shape> = { [K in keyof S]: S[K] extends Check<infer T> ? T : never };

/** An object with exactly these fields: unknown extra fields are rejected (a hostile sender learns nothing). */
export const object = <S extends Shape>(shape: S): Check<FromShape<S>> => (v, path) => {
  if (typeof v !== 'object' || v === null || Array.isArray(v)) fail(path, 'an object', v);
  const input = v as Record<string, unknown>;
  for (const key of Object.keys(input)) {
    if (!Object.prototype.hasOwnProperty.call(shape, key)) throw new ValidationError(`${path}.${key}: unknown field`);
  }
  const out: Record<string, unknown> = {};
  for (const [key, check] of Object.entries(shape)) {
    const value = check(input[key], `${path}.${key}`);
    if (value !== undefined) out[key] = value;
  }
  return out as FromShape<S>;
};
