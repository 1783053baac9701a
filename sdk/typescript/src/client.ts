import { ApiError } from "./errors.js";
import { readEvents } from "./sse.js";
import {
  OPERATIONS,
  type AgentIn,
  type AgentOut,
  type AgentPatch,
  type AgentSaved,
  type AgentSummary,
  type OperationName,
  type Operations,
  type RunCreate,
  type RunDetail,
  type RunOut,
  type StepOut,
  type TokenOut,
} from "./schema.js";

type Fetch = typeof fetch;

export interface ClientOptions {
  /** Where the platform runs, e.g. `https://agents.example.com` (no `/api/v1`). */
  baseUrl: string;
  /** An API key (`ap_…`); exchanged for short-lived access tokens as needed. */
  apiKey?: string;
  /** An access token to use as is (it ends after 15 minutes; with an `apiKey` too, a new one
   * is exchanged when it has ended). */
  accessToken?: string;
  /** Send the key itself on every call instead of exchanging it for a token. */
  exchangeToken?: boolean;
  /** The fetch to use (tests, proxies); default: the global one. */
  fetch?: Fetch;
}

/** The arguments of an operation: each part is required when the operation requires some of it. */
export type CallArgs<K extends OperationName> = ({} extends Operations[K]["path"]
  ? { path?: Operations[K]["path"] }
  : { path: Operations[K]["path"] }) &
  ({} extends Operations[K]["query"]
    ? { query?: Operations[K]["query"] }
    : { query: Operations[K]["query"] }) &
  ({} extends Operations[K]["headers"]
    ? { headers?: Operations[K]["headers"] }
    : { headers: Operations[K]["headers"] }) &
  ([undefined] extends [Operations[K]["body"]]
    ? { body?: Operations[K]["body"] }
    : { body: Operations[K]["body"] });

/** One list page; `next_cursor` is null on the last one. */
export interface Page<T> {
  data: T[];
  next_cursor: string | null;
}

export interface ListOptions {
  limit?: number;
  cursor?: string;
}

/** What a run's live stream sends: finished steps, the current step's tokens, `discard`
 * (a fallback model takes over: drop the partial text) and one `end`. */
export type RunEvent =
  | { type: "step"; data: StepOut }
  | { type: "token"; data: { text: string } }
  | { type: "discard"; data: { model: string; reason: string } }
  | {
      type: "end";
      data: {
        status: string;
        output: Record<string, unknown> | null;
        error: string | null;
        tokens: number;
        cost: string;
        cost_unknown: boolean;
      };
    };

// A token is exchanged again this long before it ends, so no call goes out with one about to.
const TOKEN_MARGIN_MS = 60_000;

/**
 * The platform's REST API. `call` reaches every operation of the OpenAPI schema, typed; the
 * `agents` and `runs` groups are the common cases with friendlier names.
 */
export class Client {
  readonly baseUrl: string;
  private readonly apiKey: string | undefined;
  private readonly exchange: boolean;
  private readonly fetcher: Fetch;
  private token: string | undefined;
  private tokenEnds = 0;
  private pendingToken: Promise<string> | undefined;

  readonly agents: Agents;
  readonly runs: Runs;

  constructor(options: ClientOptions) {
    if (!options.apiKey && !options.accessToken) {
      throw new Error("Give the client an apiKey (ap_…) or an accessToken.");
    }
    this.baseUrl = options.baseUrl.replace(/\/+$/, "");
    this.apiKey = options.apiKey;
    this.exchange = options.exchangeToken ?? true;
    this.fetcher = options.fetch ?? globalThis.fetch.bind(globalThis);
    if (options.accessToken) {
      this.token = options.accessToken;
      this.tokenEnds = Number.POSITIVE_INFINITY;
    }
    this.agents = new Agents(this);
    this.runs = new Runs(this);
  }

  /** The bearer credential for the next call: a cached access token, or a new one. */
  async credential(): Promise<string> {
    if (this.token && Date.now() < this.tokenEnds - TOKEN_MARGIN_MS) return this.token;
    if (!this.apiKey) return this.token as string; // a given token: the API says when it ended
    if (!this.exchange) return this.apiKey;
    this.pendingToken ??= this.exchangeKey().finally(() => {
      this.pendingToken = undefined;
    });
    return this.pendingToken;
  }

  /** Exchange the API key for an access token (`POST /api/v1/auth/token`). */
  async exchangeKey(scopes?: string[]): Promise<string> {
    const response = await this.send("exchangeToken", { body: scopes ? { scopes } : undefined }, this.apiKey as string);
    const issued = (await response.json()) as TokenOut;
    this.token = issued.access_token;
    this.tokenEnds = Date.parse(issued.expires_at);
    return issued.access_token;
  }

  /** Call any operation of the API by its name in the schema (e.g. `listRuns`). */
  async call<K extends OperationName>(
    name: K,
    ...[args]: {} extends CallArgs<K> ? [CallArgs<K>?] : [CallArgs<K>]
  ): Promise<Operations[K]["response"]> {
    const response = await this.send(name, (args ?? {}) as CallArgs<K>);
    switch (OPERATIONS[name].reads) {
      case "none":
        return undefined as Operations[K]["response"];
      case "text":
        return (await response.text()) as Operations[K]["response"];
      case "sse":
        throw new Error(`${name} is a stream: use client.stream("${name}", …).`);
      default:
        return (await response.json()) as Operations[K]["response"];
    }
  }

  /** The raw events of a streaming operation (`runEvents`). */
  async *stream<K extends OperationName>(name: K, args: CallArgs<K>) {
    const response = await this.send(name, args, undefined, "text/event-stream");
    if (!response.body) return;
    yield* readEvents(response.body);
  }

  private mayExchangeAgain(bearer: string, credential: string | undefined): boolean {
    return credential === undefined && this.exchange && !!this.apiKey && bearer !== this.apiKey;
  }

  private async send<K extends OperationName>(
    name: K,
    args: CallArgs<K>,
    credential?: string,
    accept = "application/json",
  ): Promise<Response> {
    const op = OPERATIONS[name];
    const params = (args.path ?? {}) as Record<string, string>;
    const path = op.path.replace(/\{(\w+)\}/g, (_, key: string) => {
      const value = params[key];
      if (value === undefined) throw new Error(`${name} needs the path parameter ${key}.`);
      return encodeURIComponent(String(value));
    });
    const url = new URL(this.baseUrl + path);
    for (const [key, value] of Object.entries((args.query ?? {}) as Record<string, unknown>)) {
      if (value === undefined || value === null) continue;
      for (const item of Array.isArray(value) ? value : [value]) {
        url.searchParams.append(key, String(item));
      }
    }
    const bearer = credential ?? (await this.credential());
    const headers: Record<string, string> = { Accept: accept, Authorization: `Bearer ${bearer}` };
    for (const [key, value] of Object.entries((args.headers ?? {}) as Record<string, unknown>)) {
      if (value !== undefined && value !== null) headers[key] = String(value);
    }
    let body: BodyInit | undefined;
    if (args.body !== undefined && op.bodyType) {
      headers["Content-Type"] = op.bodyType;
      body = op.bodyType.endsWith("json") ? JSON.stringify(args.body) : (args.body as BodyInit);
    }
    const response = await this.fetcher(url, { method: op.method, headers, body });
    if (response.status === 401 && this.mayExchangeAgain(bearer, credential)) {
      // The token ended early (revoked, or a clock that runs behind): one new one, one retry.
      await response.body?.cancel();
      this.token = undefined;
      this.tokenEnds = 0;
      return this.send(name, args, await this.credential(), accept);
    }
    if (!response.ok) throw await ApiError.fromResponse(response);
    return response;
  }
}

/** Agents: list, read, create, update, delete (and find one by its name). */
export class Agents {
  constructor(private readonly client: Client) {}

  list(options: ListOptions & { search?: string; status?: string } = {}): Promise<Page<AgentSummary>> {
    return this.client.call("listAgents", { query: options as Operations["listAgents"]["query"] });
  }

  /** Every agent, page after page. */
  async *all(options: { search?: string; status?: string } = {}): AsyncGenerator<AgentSummary> {
    let cursor: string | undefined;
    do {
      const page = await this.list({ ...options, limit: 100, cursor });
      yield* page.data;
      cursor = page.next_cursor ?? undefined;
    } while (cursor);
  }

  /** The agent with exactly this name (not archived), or null. */
  async findByName(name: string): Promise<AgentSummary | null> {
    for await (const agent of this.all({ search: name })) {
      if (agent.name === name) return agent;
    }
    return null;
  }

  get(agentId: string): Promise<AgentOut> {
    return this.client.call("getAgentDetail", { path: { agent_id: agentId } });
  }

  create(body: AgentIn): Promise<AgentSaved> {
    return this.client.call("createAgent", { body });
  }

  /** A new version when the config changes; `new_version` is null when nothing did. */
  update(agentId: string, patch: AgentPatch): Promise<AgentSaved> {
    return this.client.call("updateAgent", { path: { agent_id: agentId }, body: patch });
  }

  delete(agentId: string): Promise<undefined> {
    return this.client.call("deleteAgent", { path: { agent_id: agentId } });
  }
}

export interface RunListOptions extends ListOptions {
  agent_id?: string;
  status?: string;
  since?: string;
  until?: string;
}

/** Runs: start, read, list, cancel, and follow live. */
export class Runs {
  constructor(private readonly client: Client) {}

  /** Start a run; the same `idempotencyKey` again returns the same run instead of a new one. */
  create(agentId: string, input: RunCreate, options: { idempotencyKey?: string } = {}): Promise<RunOut> {
    return this.client.call("createRun", {
      path: { agent_id: agentId },
      body: input,
      headers: options.idempotencyKey ? { "Idempotency-Key": options.idempotencyKey } : {},
    });
  }

  get(runId: string): Promise<RunDetail> {
    return this.client.call("getRun", { path: { run_id: runId } });
  }

  list(options: RunListOptions = {}): Promise<Page<RunOut>> {
    return this.client.call("listRuns", { query: options as Operations["listRuns"]["query"] });
  }

  /** A queued run ends at once; a running one stops at its next token or step. */
  cancel(runId: string): Promise<RunOut> {
    return this.client.call("cancelRun", { path: { run_id: runId } });
  }

  /** The run's events from its beginning until its `end` (then the iteration stops). */
  async *stream(runId: string): AsyncGenerator<RunEvent> {
    for await (const event of this.client.stream("runEvents", { path: { run_id: runId } })) {
      const parsed = { type: event.event, data: JSON.parse(event.data) } as RunEvent;
      yield parsed;
      if (parsed.type === "end") return;
    }
  }
}
