/**
 * The icons of the Nix pages (inline SVG elements are markup, not styles or scripts: the
 * CSP allows them). The other components come from the UI kit in @forge/core.
 */
export function Icon({ name }: { name: 'folder' | 'file' | 'exec' | 'link' | 'package' | 'key' }) {
  const paths: Record<typeof name, string> = {
    folder: 'M1.75 2.5h4.1l1.4 1.5h7a.75.75 0 0 1 .75.75v8.5a.75.75 0 0 1-.75.75H1.75a.75.75 0 0 1-.75-.75v-10a.75.75 0 0 1 .75-.75Z',
    file: 'M3.75 1.5h5.5L13 5.25v9a.75.75 0 0 1-.75.75h-8.5a.75.75 0 0 1-.75-.75V2.25a.75.75 0 0 1 .75-.75ZM9 1.75V5.5h3.75',
    exec: 'M3.75 1.5h5.5L13 5.25v9a.75.75 0 0 1-.75.75h-8.5a.75.75 0 0 1-.75-.75V2.25a.75.75 0 0 1 .75-.75ZM5.5 8l2 1.75-2 1.75M8.5 12h2',
    link: 'M6.5 9.5l3-3M7 4.5l1.2-1.2a2.5 2.5 0 0 1 3.5 3.5L10.5 8M9 11.5l-1.2 1.2a2.5 2.5 0 0 1-3.5-3.5L5.5 8',
    package: 'M8 1.5l6 3v7l-6 3-6-3v-7l6-3ZM2 4.5l6 3 6-3M8 7.5v7',
    key: 'M10 1.75a4.25 4.25 0 1 1-3.9 5.9L1.75 12v2.25H4v-1.5h1.5v-1.5H7l1.2-1.2A4.25 4.25 0 0 1 10 1.75ZM11 5h.01',
  };
  return (
    <svg class={`nix-icon nix-icon-${name}`} viewBox="0 0 16 16" width="16" height="16" aria-hidden="true" focusable="false">
      <path d={paths[name]} />
    </svg>
  );
}
