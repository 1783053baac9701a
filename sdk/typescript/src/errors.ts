import type { Problem } from "./schema.js";

/**
 * Every refusal of the API, as one error type: the API answers every error with RFC 9457
 * problem details (`application/problem+json`), so a caller writes one handler and switches
 * on `type` (a stable identifier such as `not-found`, `invalid`, `rate-limited`).
 */
export class ApiError extends Error {
  readonly status: number;
  readonly type: string;
  readonly title: string;
  readonly detail: string;
  /** field -> what is wrong with it, for invalid input */
  readonly errors: Record<string, string>;
  /** seconds to wait before trying again (429), from `Retry-After` */
  readonly retryAfter: number | null;

  constructor(problem: Problem, retryAfter: number | null = null) {
    super(problem.detail || problem.title);
    this.name = "ApiError";
    this.status = problem.status;
    this.type = problem.type;
    this.title = problem.title;
    this.detail = problem.detail;
    this.errors = problem.errors ?? {};
    this.retryAfter = retryAfter;
  }

  /** The error a response stands for; a body that is not problem details still gives one
   * (a proxy in front of the API may answer an HTML page). */
  static async fromResponse(response: Response): Promise<ApiError> {
    const text = await response.text();
    const retry = response.headers.get("retry-after");
    const retryAfter = retry !== null && /^\d+$/.test(retry) ? Number(retry) : null;
    let body: unknown = null;
    try {
      body = JSON.parse(text);
    } catch {
      body = null;
    }
    if (isProblem(body)) {
      return new ApiError(body, retryAfter);
    }
    return new ApiError(
      {
        type: "about:blank",
        title: response.statusText || `HTTP ${response.status}`,
        status: response.status,
        detail: text.slice(0, 500) || `The API answered ${response.status}.`,
      },
      retryAfter,
    );
  }
}

function isProblem(value: unknown): value is Problem {
  if (typeof value !== "object" || value === null) return false;
  const v = value as Record<string, unknown>;
  return typeof v.type === "string" && typeof v.status === "number" && typeof v.title === "string";
}
