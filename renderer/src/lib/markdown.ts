// Model output is untrusted: a model reading the screen can repeat any HTML it saw there. Markdown is rendered in two
// layers. First, marked is told to treat raw HTML in the text as text (so `<img onerror=…>` shows up as the characters
// the model wrote, not as markup) and to turn images into their alt text. Second, DOMPurify keeps only an allow-list
// of plain formatting elements and attributes, as a backstop should the first layer ever let markup through.
import DOMPurify from 'dompurify';
import { Marked, type Tokens } from 'marked';

export function escapeHtml(text: string): string {
  return text.replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);
}

const marked = new Marked({
  gfm: true,
  breaks: false,
  async: false,
  renderer: {
    html(token: Tokens.HTML | Tokens.Tag): string {
      const text = escapeHtml(token.text);
      return token.block ? `<p>${text}</p>\n` : text;
    },
    // A remote image would be network access on the model's say-so; its alt text is what the reader needs.
    image(token: Tokens.Image): string {
      return escapeHtml(token.text);
    },
  },
});

const allowedTags = [
  'p', 'br', 'hr', 'strong', 'em', 'b', 'i', 'del', 's', 'code', 'pre', 'kbd', 'sub', 'sup',
  'ul', 'ol', 'li', 'h1', 'h2', 'h3', 'h4', 'h5', 'h6', 'blockquote',
  'table', 'thead', 'tbody', 'tr', 'th', 'td', 'a',
];
// No class (the model could borrow the app's own classes to dress text up as UI), no style, no id (it could clash
// with the page's ids), no event handlers: DOMPurify drops every attribute not listed.
const allowedAttributes = ['href', 'title', 'start', 'align'];

const purify = DOMPurify(window);
purify.addHook('afterSanitizeAttributes', (node) => {
  if (node.nodeName !== 'A') return;
  const href = node.getAttribute('href');
  // Only web links keep their target (shown as a tooltip; the app never navigates, see Markdown.svelte).
  if (href === null || !/^https?:\/\//i.test(href.trim())) node.removeAttribute('href');
  else if (!node.hasAttribute('title')) node.setAttribute('title', href.trim());
  node.setAttribute('rel', 'noopener noreferrer');
});

export function sanitizeHtml(html: string): string {
  return purify.sanitize(html, {
    ALLOWED_TAGS: allowedTags,
    ALLOWED_ATTR: [...allowedAttributes, 'rel'],
    ALLOW_DATA_ATTR: false,
    ALLOW_ARIA_ATTR: false,
    ALLOWED_URI_REGEXP: /^https?:\/\//i,
    RETURN_TRUSTED_TYPE: false,
  });
}

/** Markdown → safe HTML. Fine to call on a half-streamed answer: unclosed constructs render as far as they go. */
export function renderMarkdown(text: string): string {
  return sanitizeHtml(marked.parse(text, { async: false }));
}
