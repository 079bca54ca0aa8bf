#!/usr/bin/env perl
# Runs a command locally, once or as a job array, each job logging to its own file (Kaldi's run.pl interface).
#   run.pl [--max-jobs-run N] [--mem X --gpu N --time T (accepted, ignored locally)] [JOB=1:N] LOG COMMAND...
# JOB in LOG and COMMAND is replaced by the job number. Each log starts with the command and ends with the
# exit code and elapsed time. When jobs fail, the tail of the first failing log is printed, not just its name.
use strict;
use warnings;
use POSIX ":sys_wait_h";
use File::Basename qw(dirname);
use File::Path qw(make_path);

my $max_jobs = 0;
while (@ARGV && $ARGV[0] =~ /^--/) {
  my $opt = shift @ARGV;
  my $val = shift @ARGV;
  die "run.pl: option $opt needs a value\n" unless defined $val;
  if ($opt eq "--max-jobs-run") { $max_jobs = $val; }
  elsif ($opt !~ /^--(mem|gpu|time|num-threads|config)$/) { die "run.pl: unknown option $opt\n"; }
}

my ($var, $first, $last) = ("", 1, 1);
if (@ARGV && $ARGV[0] =~ /^([A-Za-z_]\w*)=(\d+):(\d+)$/) {
  ($var, $first, $last) = ($1, $2, $3);
  shift @ARGV;
  die "run.pl: empty job range $first:$last\n" if $last < $first;
}
die "usage: run.pl [options] [JOB=1:N] log-file command...\n" if @ARGV < 2;
my $log_template = shift @ARGV;
# An argument with no whitespace, quote or backslash goes to the shell as it is (so `a '|' b` pipes and `'$X'`
# expands in the job, as in Kaldi); any other is single-quoted, so that a path with spaces, quotes or backslashes
# reaches the job unchanged.
sub quoted { my ($text) = @_; return "'" . ($text =~ s/'/'\\''/gr) . "'"; }
sub shell_word { my ($arg) = @_; return $arg =~ /^[^\s'"\\]+$/ ? $arg : quoted($arg); }
my $cmd_template = join(" ", map { shell_word($_) } @ARGV);

sub job_text { my ($text, $job) = @_; $text =~ s/\b$var\b/$job/g if $var ne ""; return $text; }

my %running;
my @failed;
my $count = $last - $first + 1;
$max_jobs = $count if $max_jobs <= 0 || $max_jobs > $count;

sub reap_one {
  my $pid = wait();
  return if $pid < 0;
  my $job = delete $running{$pid};
  push @failed, $job if $? != 0;
}

for my $job ($first .. $last) {
  reap_one() while scalar(keys %running) >= $max_jobs;
  my $log = job_text($log_template, $job);
  my $cmd = job_text($cmd_template, $job);
  make_path(dirname($log));
  my $pid = fork();
  die "run.pl: fork failed: $!\n" unless defined $pid;
  if ($pid == 0) {
    open(my $fh, ">", $log) or die "run.pl: cannot write $log: $!\n";
    my $start = time();
    print $fh "# $cmd\n# Started at " . localtime() . "\n";
    close($fh);
    my $status = system("bash", "-c", "( $cmd ) >>" . quoted($log) . " 2>&1");
    my $code = $status == -1 ? 127 : ($status & 127 ? 128 + ($status & 127) : $status >> 8);
    open($fh, ">>", $log) or die;
    printf $fh "# Accounting: time=%d threads=1\n# Ended (code %d) at %s, elapsed time %d seconds\n",
      time() - $start, $code, scalar(localtime()), time() - $start;
    close($fh);
    exit($code == 0 ? 0 : 1);
  }
  $running{$pid} = $job;
}
reap_one() while %running;

if (@failed) {
  @failed = sort { $a <=> $b } @failed;
  my $log = job_text($log_template, $failed[0]);
  print STDERR "run.pl: " . scalar(@failed) . " / $count failed; tail of $log:\n";
  open(my $fh, "<", $log);
  my @lines = $fh ? <$fh> : ();
  print STDERR @lines[($#lines >= 20 ? $#lines - 19 : 0) .. $#lines];
  exit 1;
}
exit 0;
