// The `with:` inputs a workflow gives a step, as GitHub computes them: the workflow parsed and
// validated by GitHub's own parser (@actions/workflow-parser), each value evaluated by GitHub's
// own expression evaluator (@actions/expressions) against the given contexts.
//
// stdin:  {"workflow": PATH, "job": ID, "uses": "./", "contexts": {"github": {…}, "inputs": {…},
//          "vars": {…}, "secrets": {…}}}
// stdout: {"inputs": {NAME: STRING, …}}; exit 1 with the reason on stderr when the workflow does
//         not parse, the step is missing, or an expression fails.
// Packages are loaded from $ECS_TOOLS_DIR/node (installed by scripts/lib/install.sh).
import { readFileSync } from "node:fs";
import { register } from "node:module";
import { join } from "node:path";
import { pathToFileURL } from "node:url";

// The parser imports its JSON schema without `with { type: "json" }` (fine for its bundlers,
// refused by plain Node): a loader hook adds the attribute.
const jsonHook = `export async function load(url, context, next) {
  if (url.endsWith(".json")) {
    return next(url, { ...context, importAttributes: { ...context.importAttributes, type: "json" } });
  }
  return next(url, context);
}`;
register(`data:text/javascript,${encodeURIComponent(jsonHook)}`);

const modules = join(process.env.ECS_TOOLS_DIR ?? ".tools", "node", "node_modules");
const load = (name) => import(pathToFileURL(join(modules, name, "dist", "index.js")).href);
const wp = await load("@actions/workflow-parser");
const ex = await load("@actions/expressions");

const request = JSON.parse(readFileSync(0, "utf8"));
const fail = (msg) => {
  process.stderr.write(`${msg}\n`);
  process.exit(1);
};

const parsed = wp.parseWorkflow(
  { name: request.workflow, content: readFileSync(request.workflow, "utf8") },
  new wp.NoOperationTraceWriter(),
);
const errors = parsed.context.errors.getErrors();
if (errors.length > 0 || !parsed.value) {
  fail(`${request.workflow} does not parse: ${errors.map((e) => e.message).join("; ")}`);
}
// The converted model checks the jobs and steps as GitHub does (but keeps no `with:`).
const template = await wp.convertWorkflowTemplate(parsed.context, parsed.value);
if (template.errors?.length) {
  fail(`${request.workflow}: ${template.errors.map((e) => e.Message).join("; ")}`);
}

const find = (mapping, key) => {
  if (!mapping || !wp.isMapping(mapping)) return undefined;
  return mapping.find(key);
};
const steps = find(find(find(parsed.value, "jobs"), request.job), "steps");
if (!steps || !wp.isSequence(steps)) fail(`job ${request.job} has no steps`);
let step;
for (const s of steps) {
  const uses = find(s, "uses");
  if (uses && wp.isString(uses) && uses.value === request.uses) step = s;
}
if (!step) fail(`no step uses ${request.uses} in job ${request.job}`);

const context = JSON.parse(JSON.stringify(request.contexts), ex.data.reviver);
const names = Object.keys(request.contexts);
const evaluate = (expression) => {
  const lexed = new ex.Lexer(expression).lex();
  const tree = new ex.Parser(lexed.tokens, names, []).parse();
  return new ex.Evaluator(tree, context).evaluate();
};

const inputs = {};
const withs = find(step, "with");
if (withs) {
  for (const pair of withs) {
    const name = pair.key.toString();
    const value = pair.value;
    if (wp.isBasicExpression(value)) {
      try {
        // The runner turns an input's result into a string: null → "", true → "true".
        inputs[name] = evaluate(value.expression).coerceString();
      } catch (e) {
        fail(`with.${name}: ${value.expression}: ${e.message}`);
      }
    } else if (wp.isLiteral(value)) {
      inputs[name] = value.toString();
    } else {
      fail(`with.${name} is not a scalar`);
    }
  }
}
process.stdout.write(`${JSON.stringify({ inputs })}\n`);
