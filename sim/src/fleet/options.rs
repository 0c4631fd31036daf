//! A fleet as the command line describes it: how many replicas, how long a
//! transition takes to reach the others (`--link 5ms`), and when which
//! replica is cut off from the store (`--partition 2 3m..4m`). A mistake
//! names the argument, says what was wrong and what would be right.

use crate::duration::{format_duration, parse_duration};

/// A replica cut off from the store for a while.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Partition {
    /// The replica, from 1.
    pub replica: u16,
    /// When it is cut off, in trace time (ns).
    pub from_ns: u64,
    /// When it is back, in trace time (ns); after `from_ns`.
    pub to_ns: u64,
}

/// The fleet a trace is replayed across.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Fleet {
    /// Replicas of every breaker (more than 1).
    pub replicas: u16,
    /// How long a transition written by one replica takes to reach the
    /// others, in ns.
    pub link_ns: u64,
    /// The partitions, in the order given.
    pub partitions: Vec<Partition>,
    /// Replicas that must open a breaker within one open period before the
    /// opening is shared (`--quorum`; 1: every opening is shared at once).
    pub quorum: u32,
    /// Failures in Closed are counted across the replicas, and the one that
    /// reaches `fail_max` within the window opens every replica
    /// (`--cluster-failures`).
    pub cluster_failures: bool,
}

impl Fleet {
    /// The fleet of `replicas` with `--link` `link` (none: 0) and the
    /// `--partition` arguments `partitions` (each a replica and a span), or
    /// what is wrong with them, naming the argument.
    pub fn parse(
        replicas: u16,
        link: Option<&str>,
        partitions: &[(String, String)],
    ) -> Result<Fleet, String> {
        let link_ns = match link {
            None => 0,
            Some(text) => parse_duration(text).map_err(|e| {
                format!(
                    "bad --link `{text}`: {}; expected the time a transition takes to reach the other replicas, such as `--link 5ms`",
                    e.message
                )
            })?,
        };
        let mut parsed: Vec<Partition> = Vec::with_capacity(partitions.len());
        for (replica, span) in partitions {
            let partition = parse_partition(replicas, replica, span)
                .map_err(|e| format!("bad --partition `{replica} {span}`: {e}"))?;
            if let Some(other) = parsed
                .iter()
                .find(|p| p.replica == partition.replica && overlap(p, &partition))
            {
                return Err(format!(
                    "bad --partition `{replica} {span}`: replica {} is already cut off from {} to {} (`--partition {} {}..{}`); give one replica's partitions apart",
                    partition.replica,
                    format_duration(other.from_ns),
                    format_duration(other.to_ns),
                    other.replica,
                    format_duration(other.from_ns),
                    format_duration(other.to_ns)
                ));
            }
            parsed.push(partition);
        }
        Ok(Fleet {
            replicas,
            link_ns,
            partitions: parsed,
            quorum: 1,
            cluster_failures: false,
        })
    }

    /// The same fleet opening by a quorum of `quorum` replicas, or what is
    /// wrong with it, naming the argument.
    pub fn with_quorum(mut self, quorum: u32) -> Result<Fleet, String> {
        if quorum == 0 || quorum > u32::from(self.replicas) {
            return Err(format!(
                "bad --quorum {quorum}: expected from 1 (every opening shared at once) to the {} replicas of --replicas",
                self.replicas
            ));
        }
        self.quorum = quorum;
        Ok(self)
    }

    /// The same fleet, counting failures across its replicas or not.
    pub fn with_cluster_failures(mut self, on: bool) -> Fleet {
        self.cluster_failures = on;
        self
    }
}

fn overlap(a: &Partition, b: &Partition) -> bool {
    a.from_ns < b.to_ns && b.from_ns < a.to_ns
}

/// One `--partition R FROM..TO`.
fn parse_partition(replicas: u16, replica: &str, span: &str) -> Result<Partition, String> {
    let number = replica
        .parse::<u64>()
        .ok()
        .filter(|_| replica.bytes().all(|b| b.is_ascii_digit()));
    let replica = match number {
        Some(r) if r >= 1 && r <= u64::from(replicas) => r as u16,
        Some(r) => {
            return Err(format!(
                "no replica {r}; expected a replica from 1 to {replicas} (`--replicas {replicas}`)"
            ));
        }
        None => {
            return Err(format!(
                "expected a replica number (from 1 to {replicas}) first, found `{replica}`; as in `--partition 2 3m..4m`"
            ));
        }
    };
    let Some((from, to)) = span.split_once("..") else {
        return Err(format!(
            "expected a span `FROM..TO` of trace time after the replica, found `{span}`; as in `--partition {replica} 3m..4m`"
        ));
    };
    let time = |text: &str, which: &str| {
        parse_duration(text).map_err(|e| format!("bad {which} `{text}`: {}", e.message))
    };
    let from_ns = time(from, "start")?;
    let to_ns = time(to, "end")?;
    if to_ns <= from_ns {
        return Err(format!(
            "the partition must end after it starts ({} is not after {}); as in `--partition {replica} 3m..4m`",
            format_duration(to_ns),
            format_duration(from_ns)
        ));
    }
    Ok(Partition {
        replica,
        from_ns,
        to_ns,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(link: Option<&str>, partitions: &[(&str, &str)]) -> Result<Fleet, String> {
        let partitions: Vec<(String, String)> = partitions
            .iter()
            .map(|(r, s)| (r.to_string(), s.to_string()))
            .collect();
        Fleet::parse(5, link, &partitions)
    }

    #[test]
    fn reads_the_link_and_the_partitions() {
        let fleet = parse(Some("5ms"), &[("2", "3m..4m"), ("2", "5m..6m")]).unwrap();
        assert_eq!(fleet.link_ns, 5_000_000);
        assert_eq!(
            fleet.partitions[0],
            Partition {
                replica: 2,
                from_ns: 180_000_000_000,
                to_ns: 240_000_000_000
            }
        );
    }

    #[test]
    fn a_mistake_names_the_argument_and_what_would_be_right() {
        let error = |link, partitions: &[(&str, &str)]| parse(link, partitions).unwrap_err();
        assert!(error(Some("5"), &[]).starts_with("bad --link `5`: duration `5` has no unit"));
        assert_eq!(
            error(None, &[("7", "3m..4m")]),
            "bad --partition `7 3m..4m`: no replica 7; expected a replica from 1 to 5 (`--replicas 5`)"
        );
        assert!(error(None, &[("0", "3m..4m")]).contains("no replica 0"));
        assert!(error(None, &[("x", "3m..4m")]).contains("expected a replica number"));
        assert!(error(None, &[("2", "3m")]).contains("expected a span `FROM..TO`"));
        assert!(error(None, &[("2", "3x..4m")]).contains("bad start `3x`"));
        assert!(error(None, &[("2", "4m..3m")]).contains("must end after it starts"));
        assert!(
            error(None, &[("2", "3m..5m"), ("2", "4m..6m")])
                .contains("replica 2 is already cut off from 3m to 5m")
        );
    }
}
