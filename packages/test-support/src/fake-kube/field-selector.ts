// Field selectors: the fake serves `metadata.name` and `metadata.namespace` (every type has
// them; the real server adds a few per type, such as a pod's `spec.nodeName`, not served here).
import { badRequest } from './errors.js';

/** A parsed field selector over an object's name and namespace. */
export interface FieldSelector {
  matches(object: { metadata: { name: string; namespace?: string } }): boolean;
}

const FIELDS = ['metadata.name', 'metadata.namespace'] as const;

/**
 * Parses `metadata.name=x,metadata.namespace!=y` (`=`, `==`, `!=`). Another field is the 400
 * the real server gives a custom resource for it (`builtIn` picks the built-in types' text).
 */
export function parseFieldSelector(selector: string, builtIn: boolean): FieldSelector {
  const terms = selector
    .split(',')
    .map((term) => term.trim())
    .filter((term) => term !== '')
    .map((term) => {
      const match = /^([^=!]+?)\s*(==|=|!=)\s*(.*)$/.exec(term);
      if (match === null) throw badRequest(`invalid selector: '${selector}'; can't understand '${term}'`);
      const [, field, operator, value] = match as unknown as [string, string, string, string];
      if (!(FIELDS as readonly string[]).includes(field)) {
        throw badRequest(
          builtIn ? `field label not supported: ${field}` : `"${field}" is not a known field selector: only "metadata.name", "metadata.namespace"`,
        );
      }
      return { field, equals: operator !== '!=', value };
    });
  return {
    matches(object) {
      return terms.every((term) => {
        const actual = term.field === 'metadata.name' ? object.metadata.name : (object.metadata.namespace ?? '');
        return (actual === term.value) === term.equals;
      });
    },
  };
}
