"""Wake tagging with real SB3 learners on a real MuJoCo reach task: what is stored, and that the
learner is left untouched."""

from __future__ import annotations

import numpy as np
import pytest
import torch as th
from stable_baselines3 import PPO, SAC
from stable_baselines3.common.callbacks import BaseCallback, CallbackList
from stable_baselines3.common.distributions import SquashedDiagGaussianDistribution
from stable_baselines3.common.env_util import make_vec_env

import envs  # noqa: F401  (registers the motorsleep/* ids)
from consolidation.memory import EpisodicMemory
from consolidation.tagging import MemoryTaggingCallback

ENV_ID = "motorsleep/ReachCurlCW-v0"
OBS_DIM, ACTION_DIM = 10, 2
N_ENVS, N_STEPS = 2, 64
ROLLOUT = N_ENVS * N_STEPS


@pytest.fixture(scope="module", autouse=True)
def one_torch_thread():
    """Tiny networks run fastest on one thread, above all on a machine shared with trainings."""
    threads = th.get_num_threads()
    th.set_num_threads(1)
    yield
    th.set_num_threads(threads)


def make_ppo(seed: int = 0) -> PPO:
    env = make_vec_env(ENV_ID, n_envs=N_ENVS, seed=seed)
    return PPO("MlpPolicy", env, n_steps=N_STEPS, batch_size=64, n_epochs=2, seed=seed,
               policy_kwargs={"net_arch": [16, 16]}, device="cpu")


class RolloutSnapshot(BaseCallback):
    """Copies what the tagger read at each rollout end, plus an independent policy forward."""

    def __init__(self):
        super().__init__()
        self.rollouts: list[dict] = []

    def _on_step(self) -> bool:
        return True

    def _on_rollout_end(self) -> None:
        buffer, policy = self.model.rollout_buffer, self.model.policy
        obs = th.as_tensor(buffer.observations.reshape(ROLLOUT, OBS_DIM))
        with th.no_grad():
            latent = policy.mlp_extractor.forward_actor(policy.extract_features(obs))
            mean = policy.action_net(latent).numpy()
        self.rollouts.append({
            "obs": buffer.observations.copy(), "rewards": buffer.rewards.copy(),
            "actions": buffer.actions.copy(),
            "values": buffer.values.copy(), "starts": buffer.episode_starts.copy(),
            "last_values": self.locals["values"].numpy().ravel().copy(),
            "dones": np.asarray(self.locals["dones"], dtype=np.float32).copy(),
            "mean": mean, "log_std": policy.log_std.detach().numpy().copy(),
            "timesteps": self.num_timesteps,
            "policy_state": {k: v.detach().clone() for k, v in policy.state_dict().items()},
        })


@pytest.fixture(scope="module")
def ppo_run():
    """One PPO learn(256) = 2 rollouts, tagged into a large and a small memory."""
    model = make_ppo()
    large = EpisodicMemory(capacity_per_task=1000, obs_dim=OBS_DIM, action_dim=ACTION_DIM)
    small = EpisodicMemory(capacity_per_task=100, obs_dim=OBS_DIM, action_dim=ACTION_DIM)
    taggers = [MemoryTaggingCallback(large, task=1, phase=2),
               MemoryTaggingCallback(small, task=1, phase=2)]
    snapshot = RolloutSnapshot()
    model.learn(2 * ROLLOUT, callback=CallbackList([*taggers, snapshot]))
    yield model, large, small, taggers, snapshot.rollouts
    model.env.close()


def test_memory_holds_min_of_seen_and_capacity(ppo_run):
    _, large, small, taggers, rollouts = ppo_run
    assert len(rollouts) == 2
    assert large.count_seen(1) == small.count_seen(1) == 2 * ROLLOUT
    assert len(large) == 2 * ROLLOUT and len(small) == 100
    assert taggers[0].transitions_tagged == 2 * ROLLOUT and taggers[0].seconds_tagging > 0
    data = large.arrays()
    np.testing.assert_array_equal(data["task"], 1)
    np.testing.assert_array_equal(data["phase"], 2)


def test_stored_transitions_match_the_rollout_buffer(ppo_run):
    model, large, _, _, rollouts = ppo_run
    data = large.arrays()  # capacity > seen: arrival order, time-major within each rollout
    expected_obs = np.concatenate([r["obs"].reshape(ROLLOUT, OBS_DIM) for r in rollouts])
    expected_obs = expected_obs.astype(np.float32)  # the memory stores float32
    np.testing.assert_array_equal(data["obs"], expected_obs)
    expected_rewards = np.concatenate([r["rewards"].reshape(ROLLOUT) for r in rollouts])
    np.testing.assert_array_equal(data["reward"], expected_rewards)
    # steps: num_timesteps right after each vectorised step, shared by its N_ENVS transitions
    np.testing.assert_array_equal(data["step"], np.repeat(np.arange(1, 129) * N_ENVS, N_ENVS))
    assert rollouts[-1]["timesteps"] == model.num_timesteps == 2 * ROLLOUT


def test_td_errors_equal_a_hand_recomputation(ppo_run):
    model, large, _, _, rollouts = ppo_run
    data = large.arrays()
    gamma = model.gamma
    for k, r in enumerate(rollouts):
        for t, e in [(0, 0), (10, 1), (N_STEPS - 2, 0), (N_STEPS - 1, 0), (N_STEPS - 1, 1)]:
            if t + 1 < N_STEPS:
                bootstrap = r["values"][t + 1, e] * (1 - r["starts"][t + 1, e])
            else:
                bootstrap = r["last_values"][e] * (1 - r["dones"][e])
            delta = r["rewards"][t, e] + gamma * bootstrap - r["values"][t, e]
            stored = data["td_error"][k * ROLLOUT + t * N_ENVS + e]
            np.testing.assert_allclose(stored, delta, rtol=1e-5, atol=1e-6)
    # an episode boundary falls inside the rollouts (50-step episodes): no bootstrap across it
    assert any(r["starts"][1:].any() for r in rollouts)


def test_successor_and_bootstrap_recompute_the_stored_td_error_with_that_moments_critic(ppo_run):
    from agents.cortex import CorticalLearner

    model, large, _, _, rollouts = ppo_run
    data = large.arrays()
    starts = np.concatenate([rollouts[0]["starts"][1:], rollouts[0]["dones"][None]]).reshape(ROLLOUT)
    np.testing.assert_array_equal(data["bootstrap"][:ROLLOUT], 1.0 - starts)
    np.testing.assert_array_equal(data["next_obs"][:ROLLOUT - N_ENVS], data["obs"][N_ENVS:ROLLOUT])
    learner = CorticalLearner("ppo", net_arch=[16, 16], n_envs=N_ENVS)
    learner.model = model
    now = {k: v.clone() for k, v in model.policy.state_dict().items()}
    try:
        model.policy.load_state_dict(rollouts[0]["policy_state"])  # the critic that tagged rollout 1
        then = learner.td_errors(*(data[k][:ROLLOUT] for k in ("obs", "reward", "next_obs", "bootstrap")))
    finally:
        model.policy.load_state_dict(now)
    np.testing.assert_allclose(then, data["td_error"][:ROLLOUT], rtol=1e-4, atol=1e-5)
    later = learner.td_errors(*(data[k][:ROLLOUT] for k in ("obs", "reward", "next_obs", "bootstrap")))
    assert np.abs(later - then).max() > 1e-4  # the critic has learned since: surprise now is not surprise then


def test_action_targets_are_the_policy_distribution(ppo_run):
    _, large, _, _, rollouts = ppo_run
    data = large.arrays()
    for k, r in enumerate(rollouts):
        rows = slice(k * ROLLOUT, (k + 1) * ROLLOUT)
        np.testing.assert_allclose(data["action_mean"][rows], r["mean"], rtol=1e-6, atol=1e-6)
        np.testing.assert_allclose(data["action_log_std"][rows],
                                   np.broadcast_to(r["log_std"], (ROLLOUT, ACTION_DIM)), atol=1e-6)
    assert np.isfinite(data["novelty"]).all() and (data["novelty"] >= 0).all()
    np.testing.assert_array_equal(data["novelty"][:ROLLOUT], 1.0)  # first batch: by convention


def test_executed_actions_are_the_rollout_samples_clipped_to_the_action_box(ppo_run):
    _, large, _, _, rollouts = ppo_run
    stored = large.arrays()["action"]
    raw = np.concatenate([r["actions"].reshape(ROLLOUT, ACTION_DIM) for r in rollouts])
    # PPO's buffer keeps the unclipped Gaussian sample; the env got it clipped to [-1, 1]
    assert (np.abs(raw) > 1).any() and (np.abs(raw) <= 1).any()
    np.testing.assert_array_equal(stored, np.clip(raw, -1.0, 1.0).astype(np.float32))


def test_tagging_does_not_change_the_learner():
    # built one after the other: building seeds torch's global RNG, learning consumes it
    plain = make_ppo(seed=5)
    plain.learn(2 * ROLLOUT)
    tagged = make_ppo(seed=5)
    memory = EpisodicMemory(capacity_per_task=50, obs_dim=OBS_DIM, action_dim=ACTION_DIM)
    tagged.learn(2 * ROLLOUT, callback=MemoryTaggingCallback(memory, task=0, phase=0))
    assert len(memory) == 50
    for (name, a), b in zip(plain.policy.state_dict().items(), tagged.policy.state_dict().values(),
                            strict=True):
        assert th.equal(a, b), name
    for model in (plain, tagged):
        model.env.close()


class ObservationRecorder(BaseCallback):
    """The observation of each off-policy transition, seen at its step (before it is stored)."""

    def __init__(self):
        super().__init__()
        self.obs: list[np.ndarray] = []

    def _on_step(self) -> bool:
        self.obs.append(self.model._last_obs.copy())
        return True


def test_sac_stores_every_transition_with_finite_td_errors():
    env = make_vec_env(ENV_ID, n_envs=1, seed=0)
    # a 64-row buffer wraps three times in 200 steps; 30 does not divide 200 (final flush)
    model = SAC("MlpPolicy", env, buffer_size=64, learning_starts=50, batch_size=32, seed=0,
                device="cpu", policy_kwargs={"net_arch": [16, 16]})
    memory = EpisodicMemory(capacity_per_task=1000, obs_dim=OBS_DIM, action_dim=ACTION_DIM)
    tagger = MemoryTaggingCallback(memory, task=0, phase=0, tag_every=30)
    recorder = ObservationRecorder()
    model.learn(200, callback=CallbackList([recorder, tagger]))
    data = memory.arrays()
    assert len(memory) == tagger.transitions_tagged == 200
    np.testing.assert_array_equal(data["step"], np.arange(1, 201))
    np.testing.assert_array_equal(data["obs"], np.concatenate(recorder.obs).astype(np.float32))
    buffer = model.replay_buffer  # the last 64 rows still in the buffer, oldest at buffer.pos
    last_rewards = np.roll(buffer.rewards[:, 0], -buffer.pos)
    np.testing.assert_array_equal(data["reward"][-64:], last_rewards)
    assert np.isfinite(data["td_error"]).all() and np.abs(data["td_error"]).max() > 0
    assert np.isfinite(data["action_log_std"]).all()
    # executed actions: the replay buffer's (squashed, in a [-1, 1] box), random warm-up ones included
    np.testing.assert_array_equal(data["action"][-64:], np.roll(buffer.actions[:, 0], -buffer.pos, axis=0))
    assert np.isfinite(data["action"]).all() and np.abs(data["action"]).max() <= 1
    # the last 5 TD errors, recomputed with SB3's own squashed-Gaussian log-probability
    rows = (buffer.pos - 1 - np.arange(5)) % 64
    obs, next_obs = (th.as_tensor(a[rows, 0], dtype=th.float32)
                     for a in (buffer.observations, buffer.next_observations))
    with th.no_grad():
        mean, log_std, _ = model.actor.get_action_dist_params(next_obs)
        dist = SquashedDiagGaussianDistribution(ACTION_DIM).proba_distribution(mean, log_std)
        next_action = th.tanh(mean)
        next_log_prob = dist.log_prob(next_action, gaussian_actions=mean)
        q_next = th.min(*model.critic_target(next_obs, next_action)).ravel()
        q = th.min(*model.critic(obs, th.as_tensor(buffer.actions[rows, 0]))).ravel()
        alpha = th.exp(model.log_ent_coef)
    not_done = 1 - buffer.dones[rows, 0] * (1 - buffer.timeouts[rows, 0])
    soft_value = (q_next - alpha * next_log_prob).numpy()
    target = buffer.rewards[rows, 0] + model.gamma * not_done * soft_value
    np.testing.assert_allclose(data["td_error"][-1:-6:-1], target - q.numpy(), rtol=1e-4,
                               atol=1e-5)
    env.close()


def test_bad_arguments():
    memory = EpisodicMemory(capacity_per_task=10, obs_dim=OBS_DIM + 1, action_dim=ACTION_DIM)
    with pytest.raises(ValueError, match="tag_every"):
        MemoryTaggingCallback(memory, task=0, phase=0, tag_every=0)
    with pytest.raises(ValueError, match="task"):
        MemoryTaggingCallback(memory, task=-1, phase=0)
    with pytest.raises(ValueError, match="obs_dim"):
        make_ppo().learn(ROLLOUT, callback=MemoryTaggingCallback(memory, task=0, phase=0))
