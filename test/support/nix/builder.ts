/**
 * The builder of every harness derivation: `/bin/sh -c 'exec perl -e "$generator"'`, with
 * the parameters in the derivation's environment. Perl is Essential on Debian (perl-base),
 * and the build runs unsandboxed with `PATH=/bin:/usr/bin`, so no channel is needed.
 *
 * Environment: out, name, salt, size (bytes of file content), files, content
 * (text|binary|mixed), bin, symlink, selfRef, singleFile ("1" or ""), refs (store paths).
 *
 * Layout of a directory output:
 *   share/data/d<N>/f<i>.txt|.bin   `files` files sharing `size` bytes
 *   bin/<name>                      executable shell script (bin)
 *   link -> share/data/d0/f0.…      relative symlink (symlink)
 *   nix-support/references          one store path per line (refs, selfRef)
 * A single-file output is the data itself followed by the reference lines.
 *
 * Text is pseudo-English from a per-path vocabulary with a Zipf-like distribution, seeded
 * from salt/name (so reruns differ): xz compresses it about 2.9x, zstd -3 about 2.5x, like
 * real text and code. Binary is /dev/urandom (incompressible). Mixed is 64 KiB blocks, a
 * quarter of them binary.
 */
export const BUILDER_SCRIPT = 'exec perl -e "$generator"';

export const GENERATOR = String.raw`
use strict; use warnings;
my $out = $ENV{out}; my $name = $ENV{name};
my $size = int($ENV{size} || 0); my $files = int($ENV{files} || 0);
my $content = $ENV{content} || 'text';
my @refs = grep { length } split /\s+/, ($ENV{refs} || '');
push @refs, $out if $ENV{selfRef};
my $h = 2166136261;
for my $c (unpack 'C*', ($ENV{salt} || '') . '/' . $name) { $h ^= $c; $h = ($h * 16777619) % 4294967296; }
srand($h);
my @alpha = split //, 'etaoinshrdlcumwfgypbvkjxqz_0123456789';
my @vocab;
for (1 .. 4096) {
  my $l = 2 + int(rand() * rand() * 12);
  push @vocab, join '', map { $alpha[int(rand() * rand() * @alpha)] } 1 .. $l;
}
sub text_block {
  my ($n) = @_; my $s = '';
  while (length($s) < $n) {
    my $w = 3 + int(rand(10));
    $s .= $vocab[int(rand() * rand() * 4096)] . ' ' for 1 .. $w;
    $s .= "\n";
  }
  return substr($s, 0, $n);
}
my $urandom;
sub binary_block {
  my ($n) = @_;
  unless ($urandom) { open($urandom, '<:raw', '/dev/urandom') or die "urandom: $!"; }
  my $buf = ''; my $got = 0;
  while ($got < $n) { my $r = read($urandom, $buf, $n - $got, $got); die "urandom: $!" unless $r; $got += $r; }
  return $buf;
}
sub write_data {
  my ($fh, $n) = @_;
  my $block = 65536;
  while ($n > 0) {
    my $k = $n < $block ? $n : $block;
    my $bin = $content eq 'binary' || ($content eq 'mixed' && rand() < 0.25);
    print $fh ($bin ? binary_block($k) : text_block($k)) or die "write: $!";
    $n -= $k;
  }
}
my $ext = $content eq 'binary' ? 'bin' : $content eq 'mixed' ? 'dat' : 'txt';
if ($ENV{singleFile}) {
  open(my $fh, '>:raw', $out) or die "$out: $!";
  write_data($fh, $size);
  print $fh map { "\n$_\n" } @refs;
  close($fh) or die "$out: $!";
} else {
  mkdir $out or die "$out: $!";
  my $first;
  for my $i (0 .. $files - 1) {
    my $dir = "$out/share"; mkdir $dir; $dir .= '/data'; mkdir $dir; $dir .= '/d' . int($i / 64); mkdir $dir;
    my $rel = 'share/data/d' . int($i / 64) . "/f$i.$ext";
    $first //= $rel;
    my $n = int($size / $files) + ($i < $size % $files ? 1 : 0);
    open(my $fh, '>:raw', "$out/$rel") or die "$rel: $!";
    write_data($fh, $n);
    close($fh) or die "$rel: $!";
  }
  if ($ENV{bin}) {
    mkdir "$out/bin";
    open(my $fh, '>', "$out/bin/$name") or die "bin: $!";
    print $fh "#!/bin/sh\necho '$name'\n";
    close($fh);
    chmod 0755, "$out/bin/$name" or die "chmod: $!";
  }
  if ($ENV{symlink}) {
    symlink($first // ($ENV{bin} ? "bin/$name" : 'nix-support'), "$out/link") or die "symlink: $!";
  }
  if (@refs) {
    mkdir "$out/nix-support";
    open(my $fh, '>', "$out/nix-support/references") or die "references: $!";
    print $fh map { "$_\n" } @refs;
    close($fh);
  }
}
print "built $name: $size bytes of $content in $files file(s), " . scalar(@refs) . " reference(s)\n";
`;
