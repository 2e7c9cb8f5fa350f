package deals

// RoundLockKey is the advisory lock a round holds (for tests).
const RoundLockKey = roundLockKey
