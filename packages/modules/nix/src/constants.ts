/** The package type id: URL segment and `package.type`. */
export const NIX = 'nix';
