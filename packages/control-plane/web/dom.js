/* global document, Node */
/**
 * Building the page's DOM without ever parsing markup: every value — resource names, labels,
 * error messages, all of them user input — becomes a text node or an attribute value set
 * with setAttribute. The page has no innerHTML, so nothing a config file says can run.
 */

/**
 * An element `tag` with `attributes` (skipped when null, undefined or false; `true` is an empty
 * attribute) and `children`: nodes, strings and numbers (as text), arrays of them (flattened),
 * null/undefined/false (skipped). Event-handler attributes are refused: behaviour is attached
 * with addEventListener, never from data.
 */
export function h(tag, attributes = {}, ...children) {
  const element = document.createElement(tag);
  for (const [name, value] of Object.entries(attributes)) {
    if (value === undefined || value === null || value === false) continue;
    if (/^on/i.test(name)) throw new Error(`h(${tag}): the event handler attribute ${name} is not allowed`);
    element.setAttribute(name, value === true ? '' : String(value));
  }
  appendChildren(element, children);
  return element;
}

/** Append `children` as {@link h} takes them. */
export function appendChildren(parent, children) {
  for (const child of children.flat(Infinity)) {
    if (child === undefined || child === null || child === false) continue;
    parent.append(child instanceof Node ? child : document.createTextNode(String(child)));
  }
}

/** Replace everything inside `parent` with `children`. */
export function replaceChildren(parent, ...children) {
  parent.replaceChildren();
  appendChildren(parent, children);
}

/**
 * A table with a header row of `columns` and one row per entry of `rows`: an array of cells
 * (each cell's children as {@link h} takes them), or `{attributes, cells}` for a row that
 * carries attributes of its own.
 */
export function table(className, columns, rows) {
  return h(
    'table',
    { class: className },
    h(
      'thead',
      {},
      h(
        'tr',
        {},
        columns.map((column) => h('th', { scope: 'col' }, column)),
      ),
    ),
    h(
      'tbody',
      {},
      rows.map((row) => {
        const { attributes, cells } = Array.isArray(row) ? { attributes: {}, cells: row } : row;
        return h(
          'tr',
          attributes,
          cells.map((cell) => h('td', {}, cell)),
        );
      }),
    ),
  );
}
