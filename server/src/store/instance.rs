//! The [`InstanceStore`]: each instance's breaker and last success, and the runtime
//! on/off switches set through the admin API, shared by every process.

use std::collections::HashMap;

use async_trait::async_trait;
use boxoffice_core::store::InstanceState;
use boxoffice_core::{InstanceStore, StoreError};
use chrono::Utc;
use sea_orm::ActiveValue::Set;
use sea_orm::EntityTrait;
use sea_orm::sea_query::OnConflict;

use super::entity::{provider_settings, provider_state};
use super::{SeaOrmStore, store_error};

#[async_trait]
impl InstanceStore for SeaOrmStore {
    async fn instance_state(&self, provider: &str) -> Result<InstanceState, StoreError> {
        Ok(provider_state::Entity::find_by_id(provider.to_owned())
            .one(&self.db)
            .await
            .map_err(store_error)?
            .map(|row| InstanceState {
                consecutive_failures: u32::try_from(row.consecutive_failures).unwrap_or_default(),
                open_until: row.open_until,
                last_success: row.last_success,
            })
            .unwrap_or_default())
    }

    async fn save_instance_state(&self, provider: &str, state: &InstanceState) -> Result<(), StoreError> {
        let row = provider_state::ActiveModel {
            provider: Set(provider.to_owned()),
            consecutive_failures: Set(i32::try_from(state.consecutive_failures).unwrap_or(i32::MAX)),
            open_until: Set(state.open_until),
            last_success: Set(state.last_success),
            updated_at: Set(Utc::now()),
        };
        provider_state::Entity::insert(row)
            .on_conflict(
                OnConflict::column(provider_state::Column::Provider)
                    .update_columns([
                        provider_state::Column::ConsecutiveFailures,
                        provider_state::Column::OpenUntil,
                        provider_state::Column::LastSuccess,
                        provider_state::Column::UpdatedAt,
                    ])
                    .to_owned(),
            )
            .exec_without_returning(&self.db)
            .await
            .map_err(store_error)?;
        Ok(())
    }

    async fn provider_toggles(&self) -> Result<HashMap<String, bool>, StoreError> {
        Ok(provider_settings::Entity::find()
            .all(&self.db)
            .await
            .map_err(store_error)?
            .into_iter()
            .map(|row| (row.name, row.enabled))
            .collect())
    }

    async fn set_provider_enabled(&self, provider: &str, enabled: bool) -> Result<(), StoreError> {
        let row = provider_settings::ActiveModel {
            name: Set(provider.to_owned()),
            enabled: Set(enabled),
            updated_at: Set(Utc::now()),
        };
        provider_settings::Entity::insert(row)
            .on_conflict(
                OnConflict::column(provider_settings::Column::Name)
                    .update_columns([
                        provider_settings::Column::Enabled,
                        provider_settings::Column::UpdatedAt,
                    ])
                    .to_owned(),
            )
            .exec_without_returning(&self.db)
            .await
            .map_err(store_error)?;
        Ok(())
    }
}
