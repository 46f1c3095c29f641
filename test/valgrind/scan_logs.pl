#!/usr/bin/perl
# Reads the memcheck logs of one run of test/valgrind/run.sh and reports:
# errors in all processes, errors whose stacks pass through pg_perfaudit
# (the primary stack or the allocation/free stack of the address), errors
# elsewhere, "definitely lost" blocks allocated through pg_perfaudit, and
# how often each suppression was used.  Exit status 1 when anything
# involves pg_perfaudit.
#
#     perl scan_logs.pl WORKDIR PG_PERFAUDIT_SO SRCDIR
#
# WORKDIR holds vg/vg.<pid>.log (valgrind --log-file=.../vg.%p.log, with
# --show-error-list=yes so that each process ends with its error contexts
# and their counts) and server.log (log_line_prefix '... [%p] %b ', which
# names the process type of a pid).
use strict;
use warnings;

my ($work, $so, $srcdir) = @ARGV;
die "usage: $0 WORKDIR PG_PERFAUDIT_SO SRCDIR\n" unless defined $srcdir;

# A frame is ours when it names pg_perfaudit.so (no debug information), a
# function defined in it, or one of our source files (with debug information
# valgrind prints "fn (file.c:line)" and not the object).  The stock server
# and contrib modules are stripped: their frames never carry a file name.
my @fns;
if (open my $nm, '-|', 'nm', '--defined-only', $so) {
    while (<$nm>) {
        my (undef, $type, $name) = split;
        next unless defined $name && $type =~ /^[tT]$/;
        next if $name =~ /^(?:_PG_init|_init|_fini|Pg_magic_func|pg_finfo_\w+|deregister_tm_clones|register_tm_clones|__do_global_dtors_aux|frame_dummy)$/;
        push @fns, quotemeta $name;
    }
    close $nm;
}
opendir my $dh, $srcdir or die "$srcdir: $!";
my @files = map { quotemeta } grep { /\.[ch]$/ } readdir $dh;
closedir $dh;
my $fn_re = @fns ? join('|', @fns) : 'pa_\w+';
my $file_re = join('|', @files);
my $ours = qr/pg_perfaudit|: (?:$fn_re) \(|\((?:\S*\/)?(?:$file_re):\d+\)/;

# pid -> process type, from the server log
my %ptype;
if (open my $sl, '<', "$work/server.log") {
    while (<$sl>) {
        next unless /\[(\d+)\] (.*?) (?:LOG|WARNING|ERROR|FATAL|PANIC|DETAIL|HINT|STATEMENT|CONTEXT|NOTICE|INFO|DEBUG\d?):/;
        my ($p, $t) = ($1, $2);
        $ptype{$p} = $t if !defined $ptype{$p} || $ptype{$p} eq 'not initialized';
    }
    close $sl;
}

my $header = qr/^\s*(?:Memcheck|Copyright|Using Valgrind|Command|Parent PID|HEAP SUMMARY|LEAK SUMMARY|in use at exit|total heap usage|All heap blocks|definitely lost:|indirectly lost:|possibly lost:|still reachable:|suppressed:|Reachable blocks|To see them|Use --track-origins|For lists|For counts|Rerun with|Warning: |ERROR SUMMARY)/;
# Where our code is in an error's primary stack: "in pg_perfaudit" when
# every frame above our first one is libc or valgrind's (memcpy called by
# us, say), else "in core, N frames below pg_perfaudit" (our hooks sit on
# nearly every stack); "" when only the address's alloc/free stack is ours.
sub where_ours {
    my ($lines) = @_;
    my $depth = 0;
    for my $l (@$lines[1 .. $#$lines]) {
        last unless $l =~ /^\s+(?:at|by) 0x/;
        if ($l =~ $ours) {
            (my $f = $l) =~ s/^\s+(?:at|by) 0x[0-9A-Fa-f]+: //;
            return $depth ? "in core, $depth frames below pg_perfaudit: $f" : "in pg_perfaudit: $f";
        }
        $depth++ unless $l =~ /vgpreload|libc\.so|\((?:[\w-]+\.[cS]):\d+\)$/ && $l !~ /bin\/postgres/;
    }
    return 'in core; pg_perfaudit allocated or freed the address';
}

my ($total, $contexts, $suppressed, $procs, $no_summary) = (0, 0, 0, 0, 0);
my ($def_bytes, $def_blocks) = (0, 0);
my (@ours_err, @other_err, @ours_leak, %used_supp);

for my $f (sort glob("$work/vg/vg.*.log")) {
    my ($pid) = $f =~ /vg\.(\d+)\.log$/;
    open my $fh, '<', $f or die "$f: $!";
    my (@blocks, @listed, $cur, $in_list, $count, $have_summary);
    while (my $line = <$fh>) {
        if ($line =~ /^--\d+-- used_suppression:\s+(\d+) (\S+)/) {
            $used_supp{$2} += $1;
            next;
        }
        next unless $line =~ s/^==\d+== ?//;
        chomp $line;
        if ($line =~ /^ERROR SUMMARY: (\d+) errors from (\d+) contexts \(suppressed: (\d+)/) {
            ($total, $contexts, $suppressed) = ($total + $1, $contexts + $2, $suppressed + $3)
              unless $have_summary;
            $have_summary = 1;
            next;
        }
        if ($line =~ /^\s*definitely lost: ([\d,]+) bytes in ([\d,]+) blocks/) {
            (my $b = $1) =~ tr/,//d;
            (my $n = $2) =~ tr/,//d;
            ($def_bytes, $def_blocks) = ($def_bytes + $b, $def_blocks + $n);
            next;
        }
        if ($line =~ /^(\d+) errors in context \d+ of \d+:/) {
            ($in_list, $count) = (1, $1);
            next;
        }
        if ($line eq '') {
            if ($cur) {
                push @blocks, $cur;
                push @listed, [$count, $cur] if $in_list && defined $count;
            }
            $cur = undef;
            $count = undef;
            next;
        }
        if (!$cur) {
            next if $line =~ $header;
            $cur = [];
        }
        push @$cur, $line;
    }
    close $fh;
    $procs++;
    $no_summary++ unless $have_summary;

    # Errors from the end-of-run list when the process printed one (exact
    # counts), else their first occurrences (a SIGKILLed process has none).
    my @errs = @listed ? @listed
      : map { [undef, $_] } grep { $_->[0] !~ / lost in loss record / } @blocks;
    my %seen;
    for my $e (@errs) {
        my ($n, $b) = @$e;
        next if $b->[0] =~ / lost in loss record /;
        my $text = join("\n", @$b);
        next if $seen{$text}++;
        my $rec = { pid => $pid, count => $n, text => $text, where => $text =~ $ours ? where_ours($b) : "" };
        if ($text =~ $ours) { push @ours_err, $rec; } else { push @other_err, $rec; }
    }
    for my $b (@blocks) {
        next unless $b->[0] =~ /are definitely lost in loss record/;
        my $text = join("\n", @$b);
        push @ours_leak, { pid => $pid, text => $text } if $text =~ $ours;
    }
}

my ($ours_count, $other_count, $in_ours) = (0, 0, 0);
$ours_count += ($_->{count} // 1) for @ours_err;
$in_ours += ($_->{where} =~ /^in pg_perfaudit/ ? 1 : 0) for @ours_err;
$other_count += ($_->{count} // 1) for @other_err;
printf "valgrind logs: %d processes (%d without a final summary)\n", $procs, $no_summary;
printf "errors, all processes: %d from %d contexts (suppressed: %d)\n", $total, $contexts, $suppressed;
printf "errors whose stacks pass through pg_perfaudit: %d errors from %d contexts (%d of them with the error in our own code)\n",
  $ours_count, scalar @ours_err, $in_ours;
printf "errors elsewhere (not suppressed): %d errors from %d contexts\n", $other_count, scalar @other_err;
printf "definitely lost, all processes: %d bytes in %d blocks; allocated through pg_perfaudit: %d records\n",
  $def_bytes, $def_blocks, scalar @ours_leak;
if (%used_supp) {
    print "suppressions used (errors suppressed, all processes):\n";
    printf "  %8d  %s\n", $used_supp{$_}, $_
      for sort { $used_supp{$b} <=> $used_supp{$a} || $a cmp $b } keys %used_supp;
}
for ([\@ours_err, 'ERROR IN PG_PERFAUDIT'], [\@ours_leak, 'LEAK IN PG_PERFAUDIT'],
     [\@other_err, 'error elsewhere']) {
    my ($list, $title) = @$_;
    for my $r (@$list) {
        printf "\n--- %s (pid %s, %s%s)\n%s%s\n", $title, $r->{pid},
          $ptype{$r->{pid}} // 'process type not logged',
          defined $r->{count} ? ", $r->{count} times" : '',
          $r->{where} ? "[$r->{where}]\n" : '', $r->{text};
    }
}
exit((@ours_err || @ours_leak) ? 1 : 0);
