import { SimRequestError } from './errors.ts';
import { randomHex } from './ids.ts';
import type { ToolCall } from './plan.ts';

interface FunctionTool {
  readonly name: string;
  readonly parameters: unknown;
}

function functionOf(tool: unknown): FunctionTool | undefined {
  if (tool === null || typeof tool !== 'object') return undefined;
  const fn = (tool as Record<string, unknown>).function;
  if (fn === null || typeof fn !== 'object') return undefined;
  const { name, parameters } = fn as Record<string, unknown>;
  return typeof name === 'string' ? { name, parameters } : undefined;
}

/**
 * The function this request calls, if any: tools present and tool_choice not "none" → the named
 * function, else the first tool. A named choice that is not among the tools is a 400, as in vLLM.
 */
export function chooseTool(tools: unknown, toolChoice: unknown): FunctionTool | undefined {
  if (!Array.isArray(tools) || tools.length === 0 || toolChoice === 'none') return undefined;
  const functions = tools.map(functionOf).filter((f) => f !== undefined);
  const named = namedChoice(toolChoice);
  if (named === undefined) return functions[0];
  const match = functions.find((f) => f.name === named);
  if (match === undefined) throw new SimRequestError(400, `tool_choice names function '${named}', which is not in tools`, 'tool_choice');
  return match;
}

function namedChoice(toolChoice: unknown): string | undefined {
  if (toolChoice === null || typeof toolChoice !== 'object') return undefined;
  const fn = (toolChoice as Record<string, unknown>).function;
  const name = fn !== null && typeof fn === 'object' ? (fn as Record<string, unknown>).name : undefined;
  return typeof name === 'string' ? name : undefined;
}

/** A placeholder per JSON-Schema type, so the arguments always parse and look plausible. */
function placeholder(schema: unknown): unknown {
  const type = schema !== null && typeof schema === 'object' ? (schema as Record<string, unknown>).type : undefined;
  switch (type) {
    case 'string': return 'sim';
    case 'number':
    case 'integer': return 1;
    case 'boolean': return true;
    default: return null;
  }
}

export function toolArguments(parameters: unknown): string {
  const properties = parameters !== null && typeof parameters === 'object' ? (parameters as Record<string, unknown>).properties : undefined;
  const args: Record<string, unknown> = {};
  if (properties !== null && typeof properties === 'object') {
    for (const [key, schema] of Object.entries(properties)) args[key] = placeholder(schema);
  }
  return JSON.stringify(args);
}

export function makeToolCall(tool: FunctionTool): ToolCall {
  return { id: `call_${randomHex().slice(0, 24)}`, name: tool.name, arguments: toolArguments(tool.parameters) };
}
