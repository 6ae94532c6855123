//! ecs-poc-action library
