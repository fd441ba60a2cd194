/**
 * RFC 9457 problem+json bodies for every denial and error. Never a stack trace, an internal
 * message or an upstream banner (API8): only the registry's title/detail, the stable code, the
 * request id and, for validation, the JSON pointer of the offending field.
 */
import { ERRORS, type ErrorCode } from './errors.js';

export interface ProblemBody {
  type: string;
  title: string;
  status: number;
  detail: string;
  code: ErrorCode;
  instance?: string;
  requestId?: string;
  pointer?: string;
  errors?: { pointer: string; message: string }[];
}

export const PROBLEM_TYPE_BASE = 'https://rampart.dev/problems/';

export function problemBody(
  code: ErrorCode,
  opts: { requestId?: string; detail?: string; pointer?: string; errors?: { pointer: string; message: string }[] } = {},
): ProblemBody {
  const spec = ERRORS[code];
  const body: ProblemBody = {
    type: PROBLEM_TYPE_BASE + code.toLowerCase().replace(/^rampart_/, '').replace(/_/g, '-'),
    title: spec.title,
    status: spec.status,
    detail: opts.detail ?? spec.detail,
    code,
  };
  if (opts.requestId) body.requestId = opts.requestId;
  if (opts.pointer !== undefined) body.pointer = opts.pointer;
  if (opts.errors && opts.errors.length > 0) body.errors = opts.errors.slice(0, 20);
  return body;
}

export function problemJson(code: ErrorCode, opts?: Parameters<typeof problemBody>[1]): string {
  return JSON.stringify(problemBody(code, opts));
}
