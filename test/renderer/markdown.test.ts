import { describe, expect, it } from 'vitest';
import { renderMarkdown } from '../../renderer/src/lib/markdown.js';

function dom(html: string): HTMLElement {
  const div = document.createElement('div');
  div.innerHTML = html;
  return div;
}

/** Every element in the tree that carries an on* attribute. */
function withHandlers(root: HTMLElement): Element[] {
  return Array.from(root.querySelectorAll('*')).filter((el) => Array.from(el.attributes).some((a) => /^on/i.test(a.name)));
}

describe('renderMarkdown', () => {
  it('renders the Markdown a model writes: emphasis, lists, code blocks, tables, headings, quotes', () => {
    const root = dom(
      renderMarkdown(
        '# Title\n\nSome **bold** and *em* text.\n\n- one\n- two\n\n1. first\n\n```js\nconst a = 1 < 2;\n```\n\n> quoted\n\n| a | b |\n|---|---|\n| 1 | 2 |\n',
      ),
    );
    expect(root.querySelector('h1')?.textContent).toBe('Title');
    expect(root.querySelector('strong')?.textContent).toBe('bold');
    expect(root.querySelector('em')?.textContent).toBe('em');
    expect(root.querySelectorAll('ul > li')).toHaveLength(2);
    expect(root.querySelector('ol > li')?.textContent).toBe('first');
    expect(root.querySelector('pre > code')?.textContent).toBe('const a = 1 < 2;\n');
    expect(root.querySelector('blockquote')?.textContent?.trim()).toBe('quoted');
    expect(root.querySelectorAll('table td')).toHaveLength(2);
  });

  it('turns HTML from the screen into text: no img, no script, no event handler', () => {
    const source = 'Look: <img src=x onerror=alert(1)> and <script>alert(2)</script>\n\n<div onclick="alert(3)">block</div>\n\n<iframe src="https://evil.example"></iframe><form><input></form>';
    const root = dom(renderMarkdown(source));
    expect(root.querySelector('img, script, iframe, form, input, div, style')).toBeNull();
    expect(withHandlers(root)).toEqual([]);
    // The characters the model wrote are still there, as text.
    expect(root.textContent).toContain('<img src=x onerror=alert(1)>');
    expect(root.textContent).toContain('<script>alert(2)</script>');
  });

  it('drops Markdown images (no network access) but keeps their alt text', () => {
    const root = dom(renderMarkdown('![a cat](https://example.com/cat.png)'));
    expect(root.querySelector('img')).toBeNull();
    expect(root.textContent).toContain('a cat');
  });

  it('keeps http(s) links with rel=noopener noreferrer and strips javascript: and data: targets', () => {
    const root = dom(
      renderMarkdown('[ok](https://example.com/a) [bad](javascript:alert(1)) [data](data:text/html,hi) <https://x.example>'),
    );
    const links = Array.from(root.querySelectorAll('a'));
    expect(links.map((a) => a.textContent)).toEqual(['ok', 'bad', 'data', 'https://x.example']);
    expect(links[0]?.getAttribute('href')).toBe('https://example.com/a');
    expect(links[0]?.getAttribute('rel')).toBe('noopener noreferrer');
    expect(links[1]?.hasAttribute('href')).toBe(false);
    expect(links[2]?.hasAttribute('href')).toBe(false);
    expect(links[3]?.getAttribute('href')).toBe('https://x.example');
    expect(root.innerHTML).not.toContain('javascript:');
  });

  it('strips style and class attributes even if markup got through', () => {
    const root = dom(renderMarkdown('```html\n<b style="color:red">x</b>\n```'));
    expect(root.querySelector('[style], [class]')).toBeNull();
    expect(root.querySelector('code')?.textContent).toContain('<b style="color:red">x</b>');
  });

  it('renders a half-streamed answer (unclosed code fence) without throwing', () => {
    const root = dom(renderMarkdown('Here:\n\n```py\nprint("hi")'));
    expect(root.querySelector('pre code')?.textContent).toContain('print("hi")');
  });
});
