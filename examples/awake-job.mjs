// Keep the computer awake while a job runs (docs/awake.md): around code with keepAwake, around a
// command with runAwake. On Linux this asks logind for an inhibitor lock over the system D-Bus.
// Run: node examples/awake-job.mjs
import { keepAwake, runAwake } from 'lifeline-keepalive/awake';

const awake = await keepAwake({ reason: 'nightly backup', display: false });
try {
  await new Promise((resolve) => setTimeout(resolve, 200)); // the backup
  console.log(`held by ${awake.mechanisms.join(", ")} while the job ran`);
} finally {
  await awake.release();
}

process.exitCode = await runAwake(process.execPath, ['-e', 'console.log("the command ran")'], { reason: 'release build' });
