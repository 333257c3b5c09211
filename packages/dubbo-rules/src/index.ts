/**
 * @dubbo-mesh/dubbo-rules: Dubbo's own governance rules — condition rules (`configVersion`
 * v2.7, v3.0, v3.1), tag rules and override rules (configurators) — parsed and validated with
 * every error at its field path, and compiled for per-call evaluation with Dubbo's semantics.
 * Pure: no I/O; sources read rule documents, the proxy applies the compiled rules.
 */
export * from './rule-model.js';
export * from './rule-key.js';
export * from './rule-header.js';
export * from './rule-document.js';
export * from './value-pattern.js';
export * from './condition-parser.js';
export * from './condition-matcher.js';
export * from './condition-document.js';
export * from './condition-rule.js';
export * from './string-match.js';
export * from './address-match.js';
export * from './param-match.js';
export * from './tag-document.js';
export * from './tag-rule.js';
export * from './override-document.js';
export * from './override-rule.js';
export * from './rule-explain.js';
