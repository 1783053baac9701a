import type { Client } from "./client.js";
import type { AgentSaved } from "./schema.js";

/** A tool the agent may call, as the agent's config stores it. */
export interface ToolRef {
  kind: "builtin" | "integration" | "agent";
  name: string;
  settings?: Record<string, unknown>;
}

export const Tool = {
  /** A built-in tool: `calculator`, `clock`, `http_request`, `json_extract`, `web_search`, … */
  builtin(name: string, settings: Record<string, unknown> = {}): ToolRef {
    return { kind: "builtin", name, settings };
  },
  /** An action of a connected integration, e.g. `slack.post_message`. */
  integration(name: string, settings: Record<string, unknown> = {}): ToolRef {
    return { kind: "integration", name, settings };
  },
  /** Another agent of the organization, by name, called as a tool. */
  agent(name: string, settings: Record<string, unknown> = {}): ToolRef {
    return { kind: "agent", name, settings };
  },
};

export interface AgentDefinition {
  /** The agent's name: what `deploy` finds it by, so keep it stable. */
  name: string;
  /** `<provider>/<model>`, as the organization's providers name it (e.g. `openai/gpt-4o-mini`). */
  model: string;
  /** The system prompt; `{{variable}}`s are filled from each run's variables. */
  instructions?: string;
  description?: string;
  /** Tools by reference; a plain string is a built-in tool. */
  tools?: Array<ToolRef | string>;
  /** Any other config field (`temperature`, `memory`, `fallback_models`, `max_steps`, …). */
  config?: Record<string, unknown>;
}

/** What `deploy` did: the saved agent, and whether it was new. */
export type Deployed = AgentSaved & { created: boolean };

/**
 * An agent defined in code, kept in git like any other code: `deploy` makes the platform's
 * agent of this name match it, creating it the first time and saving a new version whenever
 * the definition changed (no version when nothing did).
 */
export class Agent {
  readonly definition: AgentDefinition;
  /** The platform's id of the agent, once deployed. */
  id: string | undefined;

  constructor(definition: AgentDefinition) {
    if (!definition.name?.trim()) throw new Error("An agent needs a name.");
    if (!definition.model?.trim()) throw new Error("An agent needs a model (<provider>/<model>).");
    this.definition = definition;
  }

  /** The config the API stores for this definition. */
  config(): Record<string, unknown> {
    const { model, instructions, tools, config } = this.definition;
    const out: Record<string, unknown> = { ...(config ?? {}), model };
    if (instructions !== undefined) out.instructions = instructions;
    if (tools !== undefined) {
      out.tools = tools.map((tool) => (typeof tool === "string" ? Tool.builtin(tool) : tool));
    }
    return out;
  }

  /** Create the agent, or update the one with this name. */
  async deploy(client: Client): Promise<Deployed> {
    const { name, description } = this.definition;
    const existing = await client.agents.findByName(name);
    const saved = existing
      ? await client.agents.update(existing.id, {
          description: description ?? existing.description,
          config: this.config(),
        })
      : await client.agents.create({ name, description: description ?? "", config: this.config() });
    this.id = saved.id;
    return { ...saved, created: existing === null };
  }
}
