// Package fleet is vigil's off-host witness on NATS JetStream: what a host
// publishes about its audit log, what a witness verifies and cosigns, and
// what the fleet's status and history are. vigil publishes and verifies;
// JetStream stores and replicates.
//
// # Buckets and streams
//
// [Init] creates them ([Replicas] copies each):
//   - KV [BucketHosts] (vigil_hosts), key = host: the host's [HostState],
//     written by the host after every operation that adds to its audit log
//     and at every heartbeat, revision-checked (a host never overwrites an
//     entry it has not read).
//   - KV [BucketKeys] (vigil_keys), key = host: the host's enrolled
//     verifier key (vigil fleet enroll), which its statements and signed
//     checkpoints must verify against.
//   - KV [BucketWitness] (vigil_witness), key = host + "." + the witness
//     key's hash: one witness's [Record] of the host, with the checkpoint
//     it cosigned (C2SP tlog-cosignature/v1). Instances of one witness
//     share the key and agree through revision-checked updates; different
//     witnesses each keep their own.
//   - stream [StreamFleet] (VIGIL_FLEET), subjects vigil.fleet.<host>: the
//     fleet's events, in alerts' ECS schema, each with a Nats-Msg-Id made
//     of the host, the vigil_hosts revision it was decided on and the
//     action, so that a restarted or second witness never stores one twice.
//   - stream [StreamEvents] (VIGIL_EVENTS), subjects vigil.events.>: the
//     hosts' alerts (the nats sink), when it does not exist yet.
//
// Issue 19 adds beside them the object store vigil_nodes and the console;
// they go in files of their own here.
//
// # Trust
//
// A host's [Agent] is the [engine.Witness] of its engine: before any
// trust decision the engine asks it for the newest checkpoint a quorum of
// the configured witness keys cosigned, and requires the audit log to
// extend it. A database put back, a log cut and rehashed or a kept
// checkpoint deleted on the host cannot move that checkpoint back: only the
// witnesses write it, and only forward along verified consistency proofs.
//
// # Caveats
//
//   - An unsigned checkpoint (setup phase) is witnessed as what the host
//     said; what the witness guarantees is that it never goes back, not that
//     it was honest. A root on the host that publishes a checkpoint its
//     database does not have locks itself out (its next check is a
//     rollback), it cannot roll back.
//   - KV history keeps the last 64 revisions of each key: vigil fleet log
//     shows that much.
//   - The witness sees only the newest value of a key: an intermediate
//     update it missed is covered by the consistency proof of the next one,
//     but its phase change is reported as one change.
package fleet
