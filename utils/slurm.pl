#!/usr/bin/env perl
# Same interface as run.pl, but submits the job array to Slurm with `sbatch --wait` and waits for it.
#   slurm.pl [--config conf/slurm.conf] [--mem 4G] [--gpu 1] [--time 2:00:00] [--num-threads N] [--max-jobs-run N]
#            [JOB=1:N] LOG COMMAND...
# The config maps generic options to the site's sbatch flags (see conf/slurm.conf.example):
#   command sbatch --export=ALL        # the submit command and the flags every job gets
#   option gpu=0                       # a value with no flags
#   option gpu=* --gres=gpu:$0 -p gpu  # any other value; $0 is replaced by it
# Each job logs like run.pl (command first, exit code and elapsed time last); failures print the log's tail.
use strict;
use warnings;
use File::Basename qw(dirname basename);
use File::Path qw(make_path);
use Cwd qw(getcwd);

my $config = "conf/slurm.conf";
my %generic = ();
my $max_jobs = 0;
while (@ARGV && $ARGV[0] =~ /^--([\w-]+)$/) {
  my $name = $1; shift @ARGV;
  my $val = shift @ARGV;
  die "slurm.pl: option --$name needs a value\n" unless defined $val;
  if ($name eq "config") { $config = $val; }
  elsif ($name eq "max-jobs-run") { $max_jobs = $val; }
  else { $name =~ s/-/_/g; $generic{$name} = $val; }
}

my ($var, $first, $last) = ("", 1, 1);
if (@ARGV && $ARGV[0] =~ /^([A-Za-z_]\w*)=(\d+):(\d+)$/) {
  ($var, $first, $last) = ($1, $2, $3);
  shift @ARGV;
}
die "usage: slurm.pl [options] [JOB=1:N] log-file command...\n" if @ARGV < 2;
my $log_template = shift @ARGV;
# An argument with no whitespace, quote or backslash goes to the shell as it is (as in run.pl); any other is
# single-quoted, so that a path with spaces, quotes or backslashes reaches the job unchanged.
sub quoted { my ($text) = @_; return "'" . ($text =~ s/'/'\\''/gr) . "'"; }
sub shell_word { my ($arg) = @_; return $arg =~ /^[^\s'"\\]+$/ ? $arg : quoted($arg); }
my @words = map { shell_word($_) } @ARGV;
my $cmd = join(" ", @words);

open(my $cf, "<", $config) or die "slurm.pl: cannot read $config (copy conf/slurm.conf.example and edit it)\n";
my @submit;
my (%exact, %any);
while (my $line = <$cf>) {
  $line =~ s/#.*//; $line =~ s/^\s+|\s+$//g;
  next if $line eq "";
  if ($line =~ /^command\s+(.*)$/) { @submit = split(/\s+/, $1); }
  elsif ($line =~ /^option\s+(\w+)=\*\s*(.*)$/) { $any{$1} = $2; }
  elsif ($line =~ /^option\s+(\w+)=(\S+)\s*(.*)$/) { $exact{"$1=$2"} = $3; }
  else { die "slurm.pl: $config: cannot parse line '$line'\n"; }
}
die "slurm.pl: $config has no 'command' line\n" unless @submit;
my @flags;
for my $name (sort keys %generic) {
  my $val = $generic{$name};
  if (exists $exact{"$name=$val"}) { push @flags, split(/\s+/, $exact{"$name=$val"}); }
  elsif (exists $any{$name}) { push @flags, map { s/\$0/$val/gr } split(/\s+/, $any{$name}); }
  else { die "slurm.pl: $config says nothing about option --$name\n"; }
}

sub job_text { my ($text, $job) = @_; $text =~ s/\b$var\b/$job/g if $var ne ""; return $text; }

# One script for the whole array: it reads its job number from SLURM_ARRAY_TASK_ID.
my $log_dir = dirname(job_text($log_template, $first));
make_path("$log_dir/q");
my $script = "$log_dir/q/" . ($var eq "" ? basename($log_template) : basename($log_template) =~ s/\b$var\b/array/gr)
  . ".sh";
my $cwd = quoted(getcwd());
# A word of the job script, its job variable replaced by ${JOB} (closing and reopening a single-quoted word for it).
sub job_word {
  my ($word) = @_;
  return $word if $var eq "";
  return $word =~ /^'/ ? ($word =~ s/\b$var\b/'"\${JOB}"'/gr) : ($word =~ s/\b$var\b/\${JOB}/gr);
}
my $job_log = job_word(quoted($log_template));
my $job_cmd = join(" ", map { job_word($_) } @words);
# The command as the log shows it: single-quoted, so that the shell expands nothing in it but the job number.
my $logged = quoted($cmd);
$logged =~ s/\b$var\b/'"\${JOB}"'/g if $var ne "";
open(my $sf, ">", $script) or die "slurm.pl: cannot write $script: $!\n";
print $sf <<"END";
#!/usr/bin/env bash
cd $cwd
. ./path.sh
JOB=\${SLURM_ARRAY_TASK_ID:-$first}
log=$job_log
start=\$(date +%s)
{ echo "# "$logged; echo "# Started at \$(date) on \$(hostname)"; } > "\$log"
( $job_cmd ) >> "\$log" 2>&1
code=\$?
echo "# Accounting: time=\$((\$(date +%s) - start)) threads=1" >> "\$log"
echo "# Ended (code \$code) at \$(date), elapsed time \$((\$(date +%s) - start)) seconds" >> "\$log"
exit \$code
END
close($sf);
chmod 0755, $script;

my $array = "--array=$first-$last" . ($max_jobs > 0 ? "%$max_jobs" : "");
my @sbatch = (@submit, "--wait", $array, "--output=/dev/null", "--job-name=" . basename($script, ".sh"), @flags, $script);
system(@sbatch);

my @failed;
for my $job ($first .. $last) {
  my $log = job_text($log_template, $job);
  open(my $fh, "<", $log) or do { push @failed, $job; next };
  my @lines = <$fh>;
  push @failed, $job unless @lines && $lines[-1] =~ /^# Ended \(code 0\)/;
}
if (@failed) {
  my $log = job_text($log_template, $failed[0]);
  print STDERR "slurm.pl: " . scalar(@failed) . " / " . ($last - $first + 1) . " failed; tail of $log:\n";
  if (open(my $fh, "<", $log)) { my @l = <$fh>; print STDERR @l[($#l >= 19 ? $#l - 19 : 0) .. $#l]; }
  else { print STDERR "(no log: the job never ran; see squeue/sacct for the array)\n"; }
  exit 1;
}
exit 0;
