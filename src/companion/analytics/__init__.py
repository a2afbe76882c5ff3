"""Course-owner analytics: active learners, retention, funnels, quiz results, tiers and conversions."""
