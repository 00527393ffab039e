// Building DOM nodes without innerHTML: every value from the server (session names, prompts,
// paths, hosts, error messages) goes into the page as text, never as markup.

// h('td', {class: 'x', title: 't', onclick: fn, dataset: {name: 'a'}}, 'text', childNode, ...)
export function h(tag, props = {}, ...children) {
  const el = document.createElement(tag);
  for (const [key, value] of Object.entries(props || {})) {
    if (value === undefined || value === null || value === false) continue;
    if (key === 'class') el.className = value;
    else if (key === 'dataset') Object.assign(el.dataset, value);
    else if (key.startsWith('on') && typeof value === 'function') el.addEventListener(key.slice(2), value);
    else if (key in el && typeof value !== 'string') el[key] = value;
    else el.setAttribute(key, value === true ? '' : String(value));
  }
  append(el, children);
  return el;
}

function append(el, children) {
  for (const child of children.flat(Infinity)) {
    if (child === undefined || child === null || child === false) continue;
    el.append(child instanceof Node ? child : document.createTextNode(String(child)));
  }
}

// Replace NODE's children with CHILDREN.
export function fill(node, ...children) {
  node.replaceChildren();
  append(node, children);
  return node;
}

// Set a text only when it changed (no layout work for live updates that change nothing).
export function setText(node, text) {
  const value = String(text ?? '');
  if (node.textContent !== value) node.textContent = value;
}
